"""Pull-request review: the PR report (diff, gate, charts), the GitHub client that posts it, and the
GitHub Actions workflows ``gitrun init --github`` writes."""

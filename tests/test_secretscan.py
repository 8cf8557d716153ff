"""The secrets detector of code.diff (gitrun/secretscan.py): each format it knows, and look-alikes it spares.

Tokens are generated at run time with ``secrets``, so this file holds no credential-shaped literal.
"""

from __future__ import annotations

import base64
import secrets

import pytest

from gitrun.tracking.secretscan import find_secret

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _token(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGXy", "private key"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow", "private key"),
        ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFH", "private key"),
        ("PuTTY-User-Key-File-3: ssh-ed25519\n", "private key"),
        ('{"type": "service_account", "project_id": "p"}', "GCP service account key"),
        ("key = '{AKIA}'", "AWS access key"),
        ("aws_secret_access_key={AWS40}", "AWS secret key"),
        ('{"auths": {"ghcr.io": {"auth": "{B64}"}}}', "registry auth"),
        ("GH = {GHP}", "GitHub token"),
        ("x = 'github_pat_{PAT}'", "GitHub token"),
        ("x = glpat-{ALNUM20}", "GitLab token"),
        ("SLACK = 'xoxb-{DIGITS}-{ALNUM20}'", "Slack token"),
        ("STRIPE = 'sk_live_{ALNUM24}'", "Stripe key"),
        ("HF = 'hf_{ALNUM34}'", "Hugging Face token"),
        ("url = 'postgres://trainer:{ALNUM20}@db.internal:5432/churn'", "URL with a password"),
        ('DB_PASSWORD = "Tr0ub4dor&3"', "secret assignment"),
        ("export API_TOKEN={ALNUM20}", "secret assignment"),
        ('"client_secret": "{ALNUM24}"', "secret assignment"),
        ('blob = "{ALNUM40}"', "high-entropy string"),
        # Not secrets:
        ('tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")', None),
        ('password = os.environ["DB_PASSWORD"]\napi_key = args.api_key\ntoken = get_token()', None),
        ("password: ${DB_PASSWORD}\ntoken: <your token>\nsecret: changeme123\napi_key: xxxxxxxxxxxx", None),
        ("see postgres://user:password@localhost/db", None),
        ('"next_page_token": "{ALNUM24}", "secret_id": secret_id, "token_type": "bearer_{ALNUM20}"', None),
        ('integrity "sha512-{ALNUM40}"\nsha = "3b1f9a0c5e7d2b4a6c8e0f1a3b5c7d9e1f2a4b6c"', None),
        ('run = "01JD5Z3F6XQ4N8V2K7C9B1M0TA"  # a ULID\nmodel = "aisingapore/Qwen-SEA-LION-v4-32B-IT"', None),
        ("-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ", None),
    ],
)
def test_find_secret_knows_common_formats_and_spares_look_alikes(text: str, kind: str | None) -> None:
    values = {
        "AKIA": "AKIA" + _token(UPPER, 16),
        "AWS40": _token(ALNUM + "/+", 40),
        "B64": base64.b64encode(b"bot:" + _token(ALNUM, 20).encode()).decode(),
        "GHP": "ghp_" + _token(ALNUM, 36),
        "PAT": _token(ALNUM + "_", 82),
        "DIGITS": _token("0123456789", 12),
        "ALNUM20": "7" + _token(ALNUM, 19),
        "ALNUM24": "Ab3" + _token(ALNUM, 21),
        "ALNUM34": _token(ALNUM, 34),
        "ALNUM40": "aB3" + _token(ALNUM, 37),
    }
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)

    assert find_secret(text.encode()) == kind

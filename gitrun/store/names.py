"""Readable generated run names (adjective-noun-number), as MLflow gives unnamed runs."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "able amber bold brave bright calm clever crisp dapper eager fair fancy gentle glad grand "
    "happy jolly keen kind lively lucky merry mighty nimble noble polite proud quick quiet rare "
    "sharp shy silent smart snappy spry steady sunny swift tidy trim vivid warm wise witty zesty"
).split()
_NOUNS = (
    "ant auk bat bear bee bison boar carp cat cod colt crab crow deer dove duck eel elk emu fawn "
    "finch fox frog gnu goat hare hawk hen heron ibis jay koala lark lion lynx mole moth mule newt "
    "owl ox panda pig puma ram rat rook seal shrew skunk slug snail swan toad trout vole wasp wolf wren yak"
).split()


def generate_run_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000)}"

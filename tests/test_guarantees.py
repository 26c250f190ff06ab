"""The README's Guarantees name tests that exist, and CI runs the sanitizer job."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def guarantees():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("\n## Guarantees\n")[1].split("\n## ")[0]


def test_every_test_the_guarantees_name_exists():
    named = 0
    for item in guarantees().split("\n- ")[1:]:
        path = None
        for ref in re.findall(r"`((?:tests/\w+\.py)?(?:::\w+)?)`", item):
            file, _, name = ref.partition("::")
            path = ROOT / file if file else path  # "::name" refers to the last file named
            assert path is not None and path.is_file(), ref
            if name:
                assert re.search(rf"^def {name}\(", path.read_text(), re.M), ref
            named += 1
    assert named >= 15


def test_ci_runs_the_address_sanitizer_job():
    script = (ROOT / ".ci" / "asan").read_text()
    assert "-fsanitize=address" in script and "libasan.so" in script
    assert re.search(r"^bash \.ci/asan\b", (ROOT / ".ci" / "run").read_text(), re.M)

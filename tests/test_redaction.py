"""redaction.py: query strings out of URLs, secrets and signatures out of text, long text cut."""

from __future__ import annotations

from airflow_provider_ango.redaction import redact_url, scrub_text, truncate
from tests.helpers import SIGNED


class TestScrubbing:
    def test_query_strings_leave_urls(self) -> None:
        assert redact_url(SIGNED) == "https://bucket.s3.eu-central-1.amazonaws.com/x.zip?<redacted>"
        assert redact_url("https://h/p#frag") == "https://h/p?<redacted>"
        assert redact_url("/v2/project/abc") == "/v2/project/abc"

    def test_scrub_removes_keys_signatures_and_queries(self) -> None:
        key = "k3y-5ecret-value"
        text = f"bad key {key}; see {SIGNED} or X-Goog-Signature=abcdef0123 and Signature=ffff00"
        cleaned = scrub_text(text, [key])
        assert key not in cleaned
        assert "deadbeefcafe" not in cleaned
        assert "abcdef0123" not in cleaned
        assert "ffff00" not in cleaned
        assert "https://bucket.s3.eu-central-1.amazonaws.com/x.zip?<redacted>" in cleaned

    def test_short_values_are_not_treated_as_secrets(self) -> None:
        assert scrub_text("a b c", ["a"]) == "a b c"

    def test_truncate_says_how_much_was_cut(self) -> None:
        assert truncate("x" * 510, 500) == "x" * 500 + "... [10 more characters]"
        assert truncate("  short ") == "short"

"""redaction.py: query strings out of URLs, secrets and signatures out of text, long text cut."""

from __future__ import annotations

from airflow_provider_ango.redaction import redact_url, scrub_text, truncate
from tests.helpers import SIGNED


class TestScrubbing:
    def test_query_strings_leave_urls(self) -> None:
        assert redact_url(SIGNED) == "https://bucket.s3.eu-central-1.amazonaws.com/x.zip?<redacted>"
        assert redact_url("https://h/p#frag") == "https://h/p?<redacted>"
        assert redact_url("/v2/project/abc") == "/v2/project/abc"
        assert redact_url("https://user:pw-9f8e7d@h/p?sig=1") == "https://***@h/p?<redacted>"

    def test_scrub_removes_keys_signatures_and_queries(self) -> None:
        key = "k3y-5ecret-value"
        text = f"bad key {key}; see {SIGNED} or X-Goog-Signature=abcdef0123 and Signature=ffff00"
        cleaned = scrub_text(text, [key])
        assert key not in cleaned
        assert "deadbeefcafe" not in cleaned
        assert "abcdef0123" not in cleaned
        assert "ffff00" not in cleaned
        assert "https://bucket.s3.eu-central-1.amazonaws.com/x.zip?<redacted>" in cleaned

    def test_userinfo_leaves_urls_wherever_they_are(self) -> None:
        text = 'endpoint "http://minio:pw-Planted-1@127.0.0.1:9000/b?list-type=2" refused'
        assert scrub_text(text) == 'endpoint "http://***@127.0.0.1:9000/b?<redacted>" refused'

    def test_a_cause_holding_a_secret_is_not_chained(self) -> None:
        from airflow_provider_ango.redaction import safe_cause

        clean = ValueError("connection refused")
        assert safe_cause(clean) is clean
        outer = ValueError("outer, clean")
        outer.__cause__ = OSError("http://u:pw-Planted-2@h/x")  # as `raise outer from inner` sets it
        assert safe_cause(outer) is None  # its cause would print the password
        assert safe_cause(ValueError("key k3y-5ecret-value used"), ["k3y-5ecret-value"]) is None

    def test_short_values_are_not_treated_as_secrets(self) -> None:
        assert scrub_text("a b c", ["a"]) == "a b c"

    def test_truncate_says_how_much_was_cut(self) -> None:
        assert truncate("x" * 510, 500) == "x" * 500 + "... [10 more characters]"
        assert truncate("  short ") == "short"

"""models/export.py: ExportOptions validation, and the SignedUrl wrapper that hides its signature."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airflow_provider_ango.models import ExportOptions, SignedUrl, TimeWindow


class TestExportOptions:
    def test_an_export_window_needs_a_bound(self) -> None:
        with pytest.raises(ValidationError, match="at least one bound"):
            ExportOptions(updated_at=TimeWindow())

    def test_wire_names_are_accepted_too(self) -> None:
        options = ExportOptions.model_validate(
            {"type": "issue", "stage": ["Label"], "taskTypes": ["benchmark"]}
        )
        assert (options.export_type, options.stages, options.task_types) == (
            "issue",
            ["Label"],
            ["benchmark"],
        )

    @pytest.mark.parametrize(
        "bad",
        [{"format": "csv"}, {"stages": []}, {"stages": [" "]}, {"task_types": ["other"]}, {"unknown": 1}],
    )
    def test_invalid_options_fail_before_sending(self, bad: dict[str, object]) -> None:
        with pytest.raises(ValidationError):
            ExportOptions.model_validate(bad)


class TestSignedUrl:
    URL = "https://exports.example/_files/export/abc.zip?Expires=99&Signature=0123456789abcdef"

    def test_str_and_repr_hide_the_signature(self) -> None:
        url = SignedUrl(self.URL)
        for shown in (str(url), repr(url), f"{url}", f"{[url]}"):
            assert "0123456789abcdef" not in shown
            assert "Expires" not in shown
        assert str(url) == "https://exports.example/_files/export/abc.zip?<redacted>"
        assert url.get_secret_value() == self.URL

    def test_equality_uses_the_full_url(self) -> None:
        assert SignedUrl(self.URL) == SignedUrl(self.URL)
        assert SignedUrl(self.URL) != SignedUrl(self.URL + "0")

    def test_only_http_urls(self) -> None:
        with pytest.raises(ValueError, match="not an http"):
            SignedUrl("file:///etc/passwd?x=1")

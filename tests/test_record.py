"""Metrics and check results travel as JSON outputs that the runner reads back."""

import math

import pytest

from course_lib import record


def test_metric_bundle_shows_text_and_carries_json():
    bundle = record.metric("test accuracy", 0.91234)._repr_mimebundle_()
    assert bundle["text/plain"] == "test accuracy: 0.9123"
    assert bundle[record.METRIC_MIME] == {"name": "test accuracy", "value": 0.91234, "headline": True}


def test_metric_refuses_nan():
    with pytest.raises(ValueError, match="finite"):
        record.metric("loss", math.nan)


def test_check_result_is_falsy_when_wrong_and_escapes_html():
    result = record.CheckResult("1.1", False, "<b>shape</b> is wrong")
    assert not result
    bundle = result._repr_mimebundle_()
    assert "&lt;b&gt;" in bundle["text/html"]
    assert bundle[record.CHECK_MIME]["passed"] is False


def test_read_outputs_finds_payloads_in_executed_cells():
    cells = [
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {record.METRIC_MIME: {"name": "a", "value": 1.0, "headline": True}}}]},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "text": "hi"}]},
        {"cell_type": "markdown"},
    ]
    assert record.read_outputs(cells, record.METRIC_MIME) == [{"name": "a", "value": 1.0, "headline": True}]
    assert record.read_outputs(cells, record.CHECK_MIME) == []

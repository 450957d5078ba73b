"""Metrics and check results travel as JSON outputs that the runner reads back."""

import json
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


def test_table_keeps_the_index_as_first_column_and_travels_as_json():
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"model": ["a|b", "int8"], "size (KB)": [np.float64(880.5), 230.0],
                          "n": [np.int64(3), 4]}).set_index("model")
    table = record.table("Formats", frame)
    assert table.columns == ["model", "size (KB)", "n"]
    assert table.rows == [["a|b", 880.5, 3], ["int8", 230.0, 4]]
    assert type(table.rows[0][2]) is int
    bundle = table._repr_mimebundle_()
    cells = [{"outputs": [{"data": {record.TABLE_MIME: json.dumps(bundle[record.TABLE_MIME])}}]}]
    assert record.Table(**record.read_outputs(cells, record.TABLE_MIME)[0]) == table
    assert table.to_markdown().splitlines() == [
        "| model | size (KB) | n |", "|---|---|---|", "| a\\|b | 880.5 | 3 |", "| int8 | 230 | 4 |"]


def test_table_refuses_non_finite_numbers():
    import pandas as pd

    with pytest.raises(ValueError, match="non-finite"):
        record.table("bad", pd.DataFrame({"x": [math.inf]}))


def test_tiny_figures_are_not_shown_as_zero():
    assert record.metric("weight difference", 4.5e-7)._repr_mimebundle_()["text/plain"] == "weight difference: 4.5e-07"
    assert record.metric("accuracy", 0.91234)._repr_mimebundle_()["text/plain"] == "accuracy: 0.9123"

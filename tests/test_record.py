"""Metrics and check results travel as JSON outputs that the runner reads back."""

import json
import math

import pytest

from course_lib import record


def test_metric_bundle_shows_text_and_carries_json():
    bundle = record.metric("test accuracy", 0.91234)._repr_mimebundle_()
    assert bundle["text/plain"] == "test accuracy: 0.9123"
    assert bundle[record.METRIC_MIME] == {
        "name": "test accuracy",
        "value": 0.91234,
        "headline": True,
    }


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
        {
            "cell_type": "code",
            "outputs": [
                {
                    "output_type": "display_data",
                    "data": {record.METRIC_MIME: {"name": "a", "value": 1.0, "headline": True}},
                }
            ],
        },
        {"cell_type": "code", "outputs": [{"output_type": "stream", "text": "hi"}]},
        {"cell_type": "markdown"},
    ]
    assert record.read_outputs(cells, record.METRIC_MIME) == [
        {"name": "a", "value": 1.0, "headline": True}
    ]
    assert record.read_outputs(cells, record.CHECK_MIME) == []


def test_table_keeps_the_index_as_first_column_and_travels_as_json():
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {"model": ["a|b", "int8"], "size (KB)": [np.float64(880.5), 230.0], "n": [np.int64(3), 4]}
    ).set_index("model")
    table = record.table("Formats", frame)
    assert table.columns == ["model", "size (KB)", "n"]
    assert table.rows == [["a|b", 880.5, 3], ["int8", 230.0, 4]]
    assert type(table.rows[0][2]) is int
    bundle = table._repr_mimebundle_()
    cells = [{"outputs": [{"data": {record.TABLE_MIME: json.dumps(bundle[record.TABLE_MIME])}}]}]
    assert record.Table(**record.read_outputs(cells, record.TABLE_MIME)[0]) == table
    assert table.to_markdown().splitlines() == [
        "| model | size (KB) | n |",
        "|---|---|---|",
        "| a\\|b | 880.5 | 3 |",
        "| int8 | 230 | 4 |",
    ]


def test_table_refuses_non_finite_numbers():
    import pandas as pd

    with pytest.raises(ValueError, match="non-finite"):
        record.table("bad", pd.DataFrame({"x": [math.inf]}))


def test_a_figure_shows_four_decimals_at_most_without_trailing_zeros():
    shown = [
        record.metric("figure", v)._repr_mimebundle_()["text/plain"]
        for v in (2.69, 0.9, 1.41402, 0.5)
    ]
    assert shown == ["figure: 2.69", "figure: 0.9", "figure: 1.414", "figure: 0.5"]
    assert record.metric("count", 240.0)._repr_mimebundle_()["text/plain"] == "count: 240"


def test_tiny_figures_are_not_shown_as_zero():
    assert (
        record.metric("weight difference", 4.5e-7)._repr_mimebundle_()["text/plain"]
        == "weight difference: 4.5e-07"
    )
    assert (
        record.metric("accuracy", 0.91234)._repr_mimebundle_()["text/plain"] == "accuracy: 0.9123"
    )


def test_a_metric_without_echo_shows_no_line_and_still_carries_its_figure():
    quiet = record.metric("test accuracy", 0.91234, echo=False)
    bundle = quiet._repr_mimebundle_()
    assert bundle["text/plain"] == ""
    assert bundle[record.METRIC_MIME] == {
        "name": "test accuracy",
        "value": 0.91234,
        "headline": True,
    }
    assert quiet == record.metric("test accuracy", 0.91234)  # the same figure for the report
    with pytest.raises(TypeError):
        record.metric("test accuracy", 0.91234, True, False)  # echo is named, never positional


def test_outside_a_notebook_metric_and_table_publish_nothing_and_keep_their_bundle():
    import pandas as pd

    figure = record.metric("accuracy", 0.5)
    assert not figure.shown and figure == record.Metric("accuracy", 0.5)
    assert figure._repr_mimebundle_()[record.METRIC_MIME] == {
        "name": "accuracy",
        "value": 0.5,
        "headline": True,
    }
    table = record.table("T", pd.DataFrame({"a": [1]}))
    assert not table.shown and table._repr_mimebundle_()["text/plain"] == ""


def _visible(output):
    """What a student sees of one output: its text, if any."""
    if output["output_type"] == "stream":
        return output["text"].strip()
    return output.get("data", {}).get("text/plain", "").strip()


def test_every_way_a_lesson_records_a_figure_shows_one_line_and_reaches_the_report_once(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from course_lib.config import KERNEL_NAME
    from course_lib.tools import runner

    cells = [
        "from course_lib import record\nimport pandas as pd\nrecord.metric('last expression', 1)",
        "display(record.metric('displayed', 2, headline=False))",
        "record.metric('mid-cell', 3, headline=False)\nanswer = 6 * 7\nanswer",
        "frame = pd.DataFrame({'model': ['a'], 'KB': [1.5]}).set_index('model')\n"
        "record.table('Sizes', frame)\n'after the table'",
        "record.table('Sizes again', frame)",
        "print('said in the cell: 4')\nrecord.metric('said', 4, headline=False, echo=False)",
        "display(record.metric('said and displayed', 5, headline=False, echo=False))",
    ]
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": KERNEL_NAME,
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "01_forms.ipynb")
    run = runner.execute_lesson(tmp_path / "01_forms.ipynb", tmp_path / "out", timeout=120)
    assert run.ok, run.details
    assert [(m.name, m.value, m.headline) for m in run.metrics] == [
        ("last expression", 1, True),
        ("displayed", 2, False),
        ("mid-cell", 3, False),
        ("said", 4, False),
        ("said and displayed", 5, False),
    ]
    assert run.headline == record.Metric("last expression", 1)
    assert run.tables == [
        record.Table("Sizes", ["model", "KB"], [["a", 1.5]]),
        record.Table("Sizes again", ["model", "KB"], [["a", 1.5]]),
    ]
    executed = nbformat.read(run.output, as_version=4).cells
    shown = [[text for text in map(_visible, cell.outputs) if text] for cell in executed]
    assert shown == [
        ["last expression: 1"],
        ["displayed: 2"],
        ["mid-cell: 3", "42"],
        ["'after the table'"],
        [],
        ["said in the cell: 4"],
        [],
    ]

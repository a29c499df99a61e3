"""The tokenizer the live check relies on, on expressions chosen to trip a naive regex."""

from __future__ import annotations

from tests.dashboards.query_names import flux_names, promql_names


def test_selectors_grouping_and_strings_that_look_like_syntax() -> None:
    names = promql_names('sum by (county, township) (rate(yiwang_a_total{x="b}c,d=\\"e",y=~"$county"}[5m]))'
                         ' / on (device) group_left(site) yiwang_b offset 5m')
    assert names.selectors == [("yiwang_a_total", [("x", "=", 'b}c,d="e'), ("y", "=~", "$county")]),
                               ("yiwang_b", [])]
    assert names.grouping == {"county", "township", "device", "site"}


def test_functions_keywords_numbers_and_bool_are_not_metrics() -> None:
    names = promql_names("topk(10, count(yiwang_up == bool 0) > 1e6) and sum(yiwang_c) without (reason)"
                         " or histogram_quantile(0.9, yiwang_d[$__rate_interval])")
    assert [s[0] for s in names.selectors] == ["yiwang_up", "yiwang_c", "yiwang_d"]
    assert names.grouping == {"reason"}


def test_bare_braces_and_label_values() -> None:
    names = promql_names('present_over_time({__name__=~"yiwang_poll_.+",collector="snmp"}[1d])')
    assert names.selectors == [(None, [("__name__", "=~", "yiwang_poll_.+"), ("collector", "=", "snmp")])]
    lv = promql_names('label_values(yiwang_poll_up{county=~"$county"}, township)')
    assert lv.selectors == [("yiwang_poll_up", [("county", "=~", "$county")])] and lv.label_args == {"township"}


def test_flux_measurements_fields_and_columns() -> None:
    names = flux_names('from(bucket: "${bucket}")\n'
                       '  |> filter(fn: (r) => r._measurement == "interface" and (r._field == "in_bps" or '
                       'r._field == "speed_mbps"))\n'
                       '  |> filter(fn: (r) => r["county"] =~ /^${county:regex}$/ and r.device == "x")\n'
                       '  |> group(columns: ["township", "_time"])\n'
                       'schema.tagValues(bucket: "b", tag: "village")')
    assert names.fields == {"interface": {"in_bps", "speed_mbps"}}
    assert names.columns >= {"county", "device", "township", "_time", "village", "_field", "_measurement"}

"""The shipped Kibana saved objects: every object parses, every reference resolves, and every
field a data view, saved search or visualization uses exists in the index templates.

Kibana cannot run here, so this is the check that the NDJSON would import and work.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from index.elasticsearch.mappings import field_types, mapping
from index.elasticsearch.kibana.objects import NDJSON_PATH, RECORDS, load_ndjson, saved_objects, to_ndjson, with_prefix

AGGREGATABLE = {"keyword", "date", "date_nanos", "long", "integer", "float", "double", "boolean"}
VIEW_INDEX = {"yuqing-posts": "posts", "yuqing-alerts": "alerts"}
KUERY_FIELD = re.compile(r"([\w.]+)\s*:")


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return load_ndjson(NDJSON_PATH)


@pytest.fixture(scope="module")
def by_id(objects) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in objects}


def fields_of(view_id: str) -> dict[str, str]:
    return dict(field_types(mapping(VIEW_INDEX[view_id])["properties"]))


def view_of(obj: dict[str, Any], ref_name: str) -> str:
    [ref] = [r for r in obj["references"] if r["name"] == ref_name]
    assert ref["type"] == "index-pattern"
    return ref["id"]


def test_every_line_is_a_saved_object_and_the_file_is_up_to_date(objects):
    lines = NDJSON_PATH.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(objects) and all(json.loads(line) for line in lines)
    for obj in objects:
        assert {"id", "type", "attributes", "references", "coreMigrationVersion"} <= set(obj)
    assert len({o["id"] for o in objects}) == len(objects)
    # the file is what index/elasticsearch/kibana/objects.py builds (`python -m index.elasticsearch.kibana build`)
    assert NDJSON_PATH.read_text(encoding="utf-8") == to_ndjson(saved_objects())


def test_the_required_objects_are_there(by_id):
    posts = by_id["yuqing-posts"]
    assert posts["type"] == "index-pattern"
    assert posts["attributes"]["title"] == "yuqing-posts*"
    assert posts["attributes"]["timeFieldName"] == "published_at"
    searches = {o["attributes"]["title"] for o in by_id.values() if o["type"] == "search"}
    assert {"负面舆情", "按地区查看帖子", "预警关联帖子"} <= searches
    dashboard = by_id["yuqing-overview"]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    shown = {by_id[ref["id"]]["attributes"]["title"] for ref in dashboard["references"]}
    assert len(panels) == 6
    assert shown == {"信息量走势（按倾向）", "领域分布", "地区统计", "主要信息来源", "热词", "负面舆情"}


def test_every_reference_resolves(objects, by_id):
    for obj in objects:
        for ref in obj["references"]:
            assert ref["id"] in by_id, f"{obj['id']} → missing {ref}"
            assert by_id[ref["id"]]["type"] == ref["type"], f"{obj['id']} → {ref} has the wrong type"
        attrs = obj["attributes"]
        meta = attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if meta:
            source = json.loads(meta)
            if "indexRefName" in source:
                view_of(obj, source["indexRefName"])
        if obj["type"] == "lens":
            for layer in attrs["state"]["datasourceStates"]["formBased"]["layers"]:
                view_of(obj, f"indexpattern-datasource-layer-{layer}")
        if obj["type"] == "dashboard":
            names = {r["name"] for r in obj["references"]}
            for panel in json.loads(attrs["panelsJSON"]):
                assert f"{panel['panelIndex']}:{panel['panelRefName']}" in names
                grid = panel["gridData"]
                assert grid["x"] + grid["w"] <= 48 and grid["i"] == panel["panelIndex"]


def test_data_view_time_fields_are_mapped_dates(objects):
    for obj in (o for o in objects if o["type"] == "index-pattern"):
        fields = fields_of(obj["id"])
        assert fields[obj["attributes"]["timeFieldName"]] in ("date", "date_nanos")
        for name in json.loads(obj["attributes"]["fieldAttrs"]):
            assert name in fields, f"{obj['id']}: label for unknown field {name}"


def test_saved_search_fields_exist(objects):
    for obj in (o for o in objects if o["type"] == "search"):
        fields = fields_of(view_of(obj, "kibanaSavedObjectMeta.searchSourceJSON.index"))
        attrs = obj["attributes"]
        used = set(attrs["columns"]) | {s[0] for s in attrs["sort"]}
        query = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
        used |= set(KUERY_FIELD.findall(query))
        missing = used - set(fields)
        assert not missing, f"{attrs['title']}: {missing}"
        assert all(fields[s[0]] in AGGREGATABLE for s in attrs["sort"]), "sort fields must be sortable"


def test_visualization_fields_exist_and_can_be_aggregated(objects):
    lens = [o for o in objects if o["type"] == "lens"]
    assert len(lens) == 5
    for obj in lens:
        state = obj["attributes"]["state"]
        for layer_id, layer in state["datasourceStates"]["formBased"]["layers"].items():
            fields = fields_of(view_of(obj, f"indexpattern-datasource-layer-{layer_id}"))
            assert layer["columnOrder"] and set(layer["columnOrder"]) == set(layer["columns"])
            for column in layer["columns"].values():
                source = column.get("sourceField")
                if source and source != RECORDS:
                    assert source in fields, f"{obj['attributes']['title']}: {source} not in the template"
                    assert fields[source] in AGGREGATABLE, f"{source} ({fields[source]}) cannot be aggregated"
                for kuery in (column.get("filter") or {}).get("query", ""), state["query"]["query"]:
                    assert set(KUERY_FIELD.findall(kuery)) <= set(fields)
                order = column.get("params", {}).get("orderBy", {}).get("columnId")
                assert order is None or order in layer["columns"]
        # the chart refers only to columns that exist
        accessors = json.dumps(state["visualization"])
        columns = {c for layer in state["datasourceStates"]["formBased"]["layers"].values() for c in layer["columns"]}
        assert set(re.findall(r'"(col-[\w-]+)"', accessors)) <= columns


def test_a_field_missing_from_the_template_would_be_caught(objects):
    broken = json.loads(json.dumps([o for o in objects if o["id"] == "yuqing-hot-words"]))
    broken[0]["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer-words"]["columns"][
        "col-word"]["sourceField"] = "no_such_field"
    with pytest.raises(AssertionError, match="no_such_field"):
        test_visualization_fields_exist_and_can_be_aggregated(broken * 5)


def test_other_prefixes_get_their_own_views_and_ids(objects):
    renamed = with_prefix(objects, "city")
    ids = {o["id"] for o in renamed}
    assert "city-posts" in ids and not any(i.startswith("yuqing-") for i in ids)
    view = next(o for o in renamed if o["id"] == "city-posts")
    assert view["attributes"]["title"] == "city-posts*"
    assert all(r["id"] in ids for o in renamed for r in o["references"])
    assert with_prefix(objects, "yuqing") == objects

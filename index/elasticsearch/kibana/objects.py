"""The Kibana saved objects shipped in index/elasticsearch/kibana/yuqing.ndjson, built here so they stay consistent.

    python -m index.elasticsearch.kibana build      rewrite yuqing.ndjson from this module

Objects (Kibana 8.x saved-object format; ids are stable, so a re-import overwrites):
  data views      yuqing-posts (yuqing-posts*, time field published_at), yuqing-alerts
  saved searches  负面舆情 (negative posts), 按地区 (posts by region), 预警关联帖子 (posts linked to alerts)
  Lens            volume over time by polarity, topic breakdown, region table, top sources, hot words
  dashboard       舆情总览: the five charts and the latest negative posts
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

NDJSON_PATH = Path(__file__).parent / "yuqing.ndjson"
DEFAULT_PREFIX = "yuqing"
POSTS_VIEW = "yuqing-posts"
ALERTS_VIEW = "yuqing-alerts"
PANEL_VERSION = "8.11.0"
CORE_MIGRATION = "8.8.0"
TYPE_MIGRATION = {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "8.7.0"}
RECORDS = "___records___"     # Lens's pseudo-field for "count of documents"

Obj = dict[str, Any]


def _saved(obj_type: str, obj_id: str, attributes: dict[str, Any], references: list[dict[str, str]]) -> Obj:
    return {"attributes": attributes, "coreMigrationVersion": CORE_MIGRATION, "id": obj_id, "managed": False,
            "references": references, "type": obj_type, "typeMigrationVersion": TYPE_MIGRATION[obj_type]}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- data views -------------------------------------------------------------------------------
FIELD_LABELS = {
    "published_at": "发布时间", "title": "标题", "content": "正文", "source": "来源", "platform": "平台",
    "sentiment.label": "情感", "polarity.label": "舆情倾向", "emotion.label": "情绪", "topic": "领域", "region.name": "地区",
    "region.code": "地区代码", "region.city": "城市", "region.district": "区县", "author.name": "作者",
    "engagement.total": "互动量", "tokens": "热词", "keywords": "关键词", "alert_ids": "关联预警",
    "schemes": "监测方案",
}


def data_view(view_id: str, title: str, name: str, time_field: str, labels: dict[str, str],
              hidden: Iterable[str] = ()) -> Obj:
    return _saved("index-pattern", view_id, {
        "fieldAttrs": _dumps({f: {"customLabel": label} for f, label in labels.items()}),
        "fieldFormatMap": "{}", "fields": "[]", "name": name, "runtimeFieldMap": "{}",
        "sourceFilters": _dumps([{"value": f} for f in hidden]), "timeFieldName": time_field,
        "title": title, "typeMeta": "{}",
    }, [])


# --- saved searches ---------------------------------------------------------------------------
def saved_search(search_id: str, title: str, description: str, kuery: str, columns: list[str],
                 sort: list[list[str]]) -> Obj:
    source = {"highlightAll": True, "version": True, "query": {"query": kuery, "language": "kuery"},
              "filter": [], "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return _saved("search", search_id, {
        "columns": columns, "description": description, "grid": {}, "hideChart": False, "hits": 0,
        "isTextBasedQuery": False, "kibanaSavedObjectMeta": {"searchSourceJSON": _dumps(source)},
        "sort": sort, "timeRestore": False, "title": title, "version": 1,
    }, [{"id": POSTS_VIEW, "name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern"}])


# --- Lens ---------------------------------------------------------------------------------------
def count_column(label: str = "帖子数", kuery: str | None = None) -> dict[str, Any]:
    column: dict[str, Any] = {"label": label, "customLabel": True, "dataType": "number", "operationType": "count",
                              "isBucketed": False, "scale": "ratio", "sourceField": RECORDS,
                              "params": {"emptyAsNull": True}}
    if kuery:
        column["filter"] = {"query": kuery, "language": "kuery"}
    return column


def terms_column(field: str, label: str, size: int, order_by: str, other: bool = False) -> dict[str, Any]:
    return {"label": label, "customLabel": True, "dataType": "string", "operationType": "terms", "isBucketed": True,
            "scale": "ordinal", "sourceField": field,
            "params": {"size": size, "orderBy": {"type": "column", "columnId": order_by}, "orderDirection": "desc",
                       "otherBucket": other, "missingBucket": False, "parentFormat": {"id": "terms"}}}


def date_column(field: str = "published_at", label: str = "发布时间") -> dict[str, Any]:
    return {"label": label, "customLabel": True, "dataType": "date", "operationType": "date_histogram",
            "isBucketed": True, "scale": "interval", "sourceField": field,
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}


def lens(lens_id: str, title: str, description: str, vis_type: str, layer: str, columns: dict[str, dict[str, Any]],
         visualization: dict[str, Any], kuery: str = "") -> Obj:
    state = {
        "adHocDataViews": {}, "internalReferences": [], "filters": [],
        "query": {"query": kuery, "language": "kuery"}, "visualization": visualization,
        "datasourceStates": {"formBased": {"layers": {layer: {
            "columnOrder": list(columns), "columns": columns, "incompleteColumns": {}, "sampling": 1}}}},
    }
    return _saved("lens", lens_id, {"description": description, "state": state, "title": title,
                                    "visualizationType": vis_type},
                  [{"id": POSTS_VIEW, "name": f"indexpattern-datasource-layer-{layer}", "type": "index-pattern"}])


def volume_by_sentiment() -> Obj:
    layer = "layer-volume"
    columns = {"col-time": date_column(), "col-sentiment": terms_column("polarity.label", "舆情倾向", 3, "col-count"),
               "col-count": count_column()}
    vis = {"preferredSeriesType": "bar_stacked", "legend": {"isVisible": True, "position": "right"},
           "valueLabels": "hide", "fittingFunction": "None",
           "layers": [{"layerId": layer, "layerType": "data", "seriesType": "bar_stacked",
                       "xAccessor": "col-time", "splitAccessor": "col-sentiment", "accessors": ["col-count"],
                       "palette": {"type": "palette", "name": "default"}}]}
    return lens("yuqing-volume-by-sentiment", "信息量走势（按倾向）", "Posts over time, stacked by polarity (舆情倾向)",
                "lnsXY", layer, columns, vis)


def topic_breakdown() -> Obj:
    layer = "layer-topic"
    columns = {"col-topic": terms_column("topic", "领域", 10, "col-count", other=True), "col-count": count_column()}
    vis = {"shape": "donut", "layers": [{"layerId": layer, "layerType": "data", "primaryGroups": ["col-topic"],
                                         "metrics": ["col-count"], "numberDisplay": "percent",
                                         "categoryDisplay": "default", "legendDisplay": "default",
                                         "nestedLegend": False}]}
    return lens("yuqing-topic-breakdown", "领域分布", "Posts by governance topic", "lnsPie", layer, columns, vis)


def region_table() -> Obj:
    layer = "layer-region"
    columns = {"col-city": terms_column("region.city", "城市", 20, "col-count"),
               "col-district": terms_column("region.district", "区县", 20, "col-count"),
               "col-count": count_column(),
               "col-negative": count_column("负面", 'polarity.label : "负面"')}
    vis = {"layerId": layer, "layerType": "data", "rowHeight": "single", "rowHeightLines": 1,
           "columns": [{"columnId": c} for c in columns]}
    return lens("yuqing-region-table", "地区统计", "Posts and negative posts per city and district",
                "lnsDatatable", layer, columns, vis)


def top_sources() -> Obj:
    layer = "layer-sources"
    columns = {"col-source": terms_column("source", "来源", 10, "col-count"), "col-count": count_column()}
    vis = {"preferredSeriesType": "bar_horizontal", "legend": {"isVisible": False, "position": "right"},
           "valueLabels": "show",
           "layers": [{"layerId": layer, "layerType": "data", "seriesType": "bar_horizontal",
                       "xAccessor": "col-source", "accessors": ["col-count"]}]}
    return lens("yuqing-top-sources", "主要信息来源", "Sources with the most posts", "lnsXY", layer, columns, vis)


def hot_words() -> Obj:
    layer = "layer-words"
    columns = {"col-word": terms_column("tokens", "热词", 50, "col-count"), "col-count": count_column()}
    vis = {"layerId": layer, "tagAccessor": "col-word", "valueAccessor": "col-count", "maxFontSize": 72,
           "minFontSize": 16, "orientation": "single", "showLabel": True}
    return lens("yuqing-hot-words", "热词", "Most frequent words (each post counts once per word)",
                "lnsTagcloud", layer, columns, vis)


# --- dashboard ------------------------------------------------------------------------------------
DASHBOARD_PANELS = [   # (panel id, saved object type, saved object id, x, y, w, h)
    ("volume", "lens", "yuqing-volume-by-sentiment", 0, 0, 32, 14),
    ("topics", "lens", "yuqing-topic-breakdown", 32, 0, 16, 14),
    ("regions", "lens", "yuqing-region-table", 0, 14, 20, 16),
    ("sources", "lens", "yuqing-top-sources", 20, 14, 14, 16),
    ("words", "lens", "yuqing-hot-words", 34, 14, 14, 16),
    ("negative", "search", "yuqing-negative-posts", 0, 30, 48, 18),
]


def dashboard() -> Obj:
    panels, references = [], []
    for panel, obj_type, obj_id, x, y, w, h in DASHBOARD_PANELS:
        ref = f"panel_{panel}"
        entry: dict[str, Any] = {"version": PANEL_VERSION, "type": obj_type,
                                 "gridData": {"x": x, "y": y, "w": w, "h": h, "i": panel}, "panelIndex": panel,
                                 "embeddableConfig": {"enhancements": {}}, "panelRefName": ref}
        if panel == "negative":
            entry["title"] = "最新负面舆情"
        panels.append(entry)
        references.append({"id": obj_id, "name": f"{panel}:{ref}", "type": obj_type})
    return _saved("dashboard", "yuqing-overview", {
        "title": "舆情总览 Yuqing overview",
        "description": "信息量走势、领域分布、地区统计、主要来源、热词与最新负面舆情",
        "panelsJSON": _dumps(panels),
        "optionsJSON": _dumps({"useMargins": True, "syncColors": False, "syncCursor": True, "syncTooltips": False,
                               "hidePanelTitles": False}),
        "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 300000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": _dumps({"query": {"query": "", "language": "kuery"},
                                                              "filter": []})},
        "version": 1,
    }, references)


def saved_objects() -> list[Obj]:
    """Every object, referenced ones first (the order Kibana exports them in)."""
    return [
        data_view(POSTS_VIEW, "yuqing-posts*", "舆情帖子 yuqing-posts", "published_at", FIELD_LABELS,
                  hidden=("content_seg", "raw")),
        data_view(ALERTS_VIEW, "yuqing-alerts", "预警 yuqing-alerts", "last_seen",
                  {"level": "级别", "status": "状态", "agency_name": "责任单位", "topic": "领域",
                   "region.name": "地区", "title": "标题"}),
        saved_search("yuqing-negative-posts", "负面舆情", "Negative posts, newest first", 'polarity.label : "负面"',
                     ["title", "content", "source", "platform", "region.name", "topic", "engagement.total"],
                     [["published_at", "desc"]]),
        saved_search("yuqing-posts-by-region", "按地区查看帖子", "Posts with a region, grouped by region code",
                     "region.code : *", ["region.name", "region.code", "title", "source", "polarity.label", "topic"],
                     [["region.code", "asc"], ["published_at", "desc"]]),
        saved_search("yuqing-scheme-posts", "监测方案命中", "Posts matching a monitoring scheme (filter on schemes)",
                     "schemes : *", ["schemes", "title", "source", "platform", "polarity.label", "region.name"],
                     [["published_at", "desc"]]),
        saved_search("yuqing-alert-posts", "预警关联帖子", "Posts cited by an alert (see the yuqing-alerts data view)",
                     "alert_ids : *", ["alert_ids", "title", "source", "polarity.label", "topic", "region.name"],
                     [["published_at", "desc"]]),
        volume_by_sentiment(), topic_breakdown(), region_table(), top_sources(), hot_words(), dashboard(),
    ]


def to_ndjson(objects: Iterable[Obj]) -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in objects)


def load_ndjson(path: Path = NDJSON_PATH) -> list[Obj]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def with_prefix(objects: list[Obj], prefix: str) -> list[Obj]:
    """The objects for indices of another prefix: data view patterns, ids and references renamed,
    titles marked, so several prefixes can live in one Kibana."""
    if prefix == DEFAULT_PREFIX:
        return objects
    text = to_ndjson(objects)
    text = text.replace(f'"{DEFAULT_PREFIX}-', f'"{prefix}-')           # ids, references, view titles
    renamed = [json.loads(line) for line in text.splitlines()]
    for obj in renamed:
        attrs = obj["attributes"]
        if obj["type"] != "index-pattern":
            attrs["title"] = f"{attrs['title']} ({prefix})"
        else:
            attrs["name"] = attrs["name"].replace(f"{DEFAULT_PREFIX}-", f"{prefix}-")
    return renamed

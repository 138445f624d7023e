"""The 日报's district map (动态地图): the jurisdiction's districts shaded by volume or negative share.

Boundaries come from a GeoJSON FeatureCollection whose features carry `code` (the 6-digit
administrative code the region extractor assigns, e.g. 360402) and `name`, with Polygon or
MultiPolygon geometry. The project ships a schematic of 九江市 (geo/jiujiang-districts.geojson:
one hexagon per district, placed roughly where it lies — not surveyed boundaries); an office
points `daily_report.map.boundaries` at its own file (e.g. exported from its GIS or from
DataV.GeoAtlas) for a true map.
"""
from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

SHIPPED_BOUNDARIES = Path(__file__).parent / "geo" / "jiujiang-districts.geojson"
MAX_FEATURES = 500


class BoundaryError(ValueError):
    """The boundary file is missing, not GeoJSON, or a feature lacks a code, name or polygon."""


@dataclass(frozen=True)
class District:
    code: str
    name: str
    rings: tuple[tuple[tuple[float, float], ...], ...]   # outer rings of every polygon part

    @property
    def centre(self) -> tuple[float, float]:
        """The mean of the largest ring's vertices: where the label goes."""
        ring = max(self.rings, key=len)
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        return sum(xs) / len(xs), sum(ys) / len(ys)


def _ring(value, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or len(value) < 4:
        raise BoundaryError(f"{where}: a ring needs at least 4 [lon, lat] positions")
    out = []
    for i, point in enumerate(value):
        if (not isinstance(point, list) or len(point) < 2
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in point[:2])):
            raise BoundaryError(f"{where}[{i}]: expected [lon, lat] numbers, got {point!r:.60}")
        out.append((float(point[0]), float(point[1])))
    return tuple(out)


def load_boundaries(path: str | Path) -> list[District]:
    """Read and check a boundary file; BoundaryError names the feature and the problem."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BoundaryError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoundaryError(f"{path}: not readable GeoJSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise BoundaryError(f"{path}: expected a GeoJSON FeatureCollection with a features list")
    if not doc["features"] or len(doc["features"]) > MAX_FEATURES:
        raise BoundaryError(f"{path}: expected 1 to {MAX_FEATURES} features, found {len(doc['features'])}")
    districts, seen = [], set()
    for i, feature in enumerate(doc["features"]):
        where = f"{path.name}: features[{i}]"
        props = feature.get("properties") if isinstance(feature, dict) else None
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise BoundaryError(f"{where}: no properties")
        code, name = str(props.get("code") or props.get("adcode") or ""), str(props.get("name") or "")
        if not code or not name:
            raise BoundaryError(f"{where}: properties need code (administrative code, e.g. 360402) and name")
        if code in seen:
            raise BoundaryError(f"{where}: code {code} appears twice")
        seen.add(code)
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if kind == "Polygon" and isinstance(coords, list) and coords:
            rings = (_ring(coords[0], f"{where}.geometry.coordinates[0]"),)
        elif kind == "MultiPolygon" and isinstance(coords, list) and coords:
            rings = tuple(_ring(part[0] if isinstance(part, list) and part else None,
                                f"{where}.geometry.coordinates[{j}][0]") for j, part in enumerate(coords))
        else:
            raise BoundaryError(f"{where} ({name}): geometry must be a Polygon or MultiPolygon, got {kind!r}")
        districts.append(District(code=code, name=name, rings=rings))
    return districts


def district_map_png(districts: list[District], values: dict[str, float], *, title: str, legend: str,
                     font: str | None, percent: bool = False) -> bytes:
    """A choropleth PNG: each district filled by its value (code → value; missing codes are 0)."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon

    rc = {"font.family": "sans-serif", "font.sans-serif": [font] if font else ["DejaVu Sans"], "font.size": 9,
          "svg.hashsalt": "yuqing-map"}
    top = max(values.values(), default=0) or 1
    norm = Normalize(vmin=0, vmax=top)
    cmap = matplotlib.colormaps["Reds"]
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        figure = Figure(figsize=(7.0, 4.2), dpi=150, layout="constrained")
        axes = figure.add_subplot()
        for district in districts:
            value = values.get(district.code, 0)
            for ring in district.rings:
                axes.add_patch(Polygon(ring, closed=True, facecolor=cmap(0.08 + 0.85 * norm(value)),
                                       edgecolor="#ffffff", linewidth=1.2))
            x, y = district.centre
            shown = f"{value:.0%}" if percent else f"{value:g}"
            dark = norm(value) > 0.55
            axes.text(x, y, f"{district.name}\n{shown}", ha="center", va="center", fontsize=7.5,
                      color="#ffffff" if dark else "#1d2733")
        axes.autoscale_view()
        axes.set_aspect("equal")
        axes.axis("off")
        axes.set_title(title, fontsize=10)
        bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.7, pad=0.01)
        bar.set_label(legend)
        if percent:
            bar.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1.0, decimals=0))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": "Yuqing Sentinel"})
    return buffer.getvalue()

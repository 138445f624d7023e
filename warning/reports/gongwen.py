"""DOCX in the 公文 layout (GB/T 9704): A4, its margins, 方正小标宋 titles, 黑体 headings, 仿宋 body at
三号 with 29 pt lines. The 专报 and the 日报 both write through GongwenDocument."""
from __future__ import annotations

import io
import re
from collections.abc import Sequence

# GB/T 9704 fonts, each with what stands in where it is absent (the HTML lists them all; the DOCX names
# the first and Word substitutes a present one on the reader's machine)
FONTS = {"title": ["方正小标宋简体", "FZXiaoBiaoSong-B05S", "华文中宋", "Noto Serif CJK SC", "serif"],
         "body": ["仿宋_GB2312", "仿宋", "FangSong", "STFangsong", "Noto Serif CJK SC", "serif"],
         "heading": ["黑体", "SimHei", "Noto Sans CJK SC", "sans-serif"],
         "subheading": ["楷体_GB2312", "楷体", "KaiTi", "STKaiti", "Noto Serif CJK SC", "serif"]}
# Where a 公文 font is missing on the reader's machine, Word takes the font table's altName: the
# standard Windows face of the same style (宋体 for the 小标宋 title, 仿宋 and 楷体 for the GB2312 faces).
DOCX_ALT_NAMES = {"方正小标宋简体": "宋体", "仿宋_GB2312": "仿宋", "楷体_GB2312": "楷体", "黑体": "SimHei"}
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
RED = (0xC0, 0x00, 0x00)
GREY = (0x44, 0x50, 0x5C)


def css_font_stacks() -> dict[str, str]:
    """FONTS as CSS font-family values (for the HTML beside the DOCX)."""
    return {k: ", ".join(f'"{f}"' if " " in f or not f.isascii() else f for f in v) for k, v in FONTS.items()}


class GongwenDocument:
    def __init__(self):
        from docx import Document
        from docx.shared import Mm
        self.doc = Document()
        section = self.doc.sections[0]
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)

    @staticmethod
    def font(run, role: str, size: float, bold: bool = False, colour: tuple[int, int, int] | None = None) -> None:
        from docx.oxml.ns import qn
        from docx.shared import Pt, RGBColor
        name = FONTS[role][0]
        run.font.name = name
        run.font.size = Pt(size)
        run.font.bold = bold
        if colour is not None:
            run.font.color.rgb = RGBColor(*colour)
        fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
        for attr in ("w:eastAsia", "w:ascii", "w:hAnsi"):
            fonts.set(qn(attr), name)

    def paragraph(self, text: str, role: str = "body", size: float = 16, align: str | None = None,
                  indent: bool = True, bold: bool = False, colour: tuple[int, int, int] | None = None):
        """One paragraph; align is None, "center" or "right"."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
        from docx.shared import Pt
        p = self.doc.add_paragraph()
        p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        p.paragraph_format.line_spacing = Pt(29)
        if indent:
            p.paragraph_format.first_line_indent = Pt(size * 2)
        if align is not None:
            p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT}[align]
        self.font(p.add_run(XML_INVALID.sub("", text)), role, size, bold, colour)   # post text may carry control characters
        return p

    def run(self, paragraph, text: str, role: str = "body", size: float = 12,
            colour: tuple[int, int, int] | None = GREY) -> None:
        self.font(paragraph.add_run(XML_INVALID.sub("", text)), role, size, colour=colour)

    def heading(self, text: str):
        """一级标题：黑体三号."""
        return self.paragraph(text, "heading", 16)

    def subheading(self, text: str):
        """二级标题：楷体三号."""
        return self.paragraph(text, "subheading", 16, bold=True)

    def picture(self, png: bytes, width_mm: float = 150) -> None:
        from docx.shared import Mm
        self.doc.add_picture(io.BytesIO(png), width=Mm(width_mm))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]], size: float = 10.5) -> None:
        """A plain grid table (仿宋 五号), header row in 黑体."""
        table = self.doc.add_table(rows=1, cols=len(header))
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, header, strict=True):
            cell.text = ""
            self.font(cell.paragraphs[0].add_run(str(text)), "heading", size)
        for row in rows:
            cells = table.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                cell.text = ""
                self.font(cell.paragraphs[0].add_run(XML_INVALID.sub("", str(value))), "body", size)

    def to_bytes(self) -> bytes:
        self._font_fallbacks()
        buffer = io.BytesIO()
        self.doc.save(buffer)
        return buffer.getvalue()

    def _font_fallbacks(self) -> None:
        from xml.sax.saxutils import quoteattr
        from docx.opc.constants import RELATIONSHIP_TYPE as RT
        part = self.doc.part.part_related_by(RT.FONT_TABLE)
        blob = part.blob.decode("utf-8")
        entries = "".join(f'<w:font w:name={quoteattr(name)}><w:altName w:val={quoteattr(alt)}/><w:charset w:val="86"/>'
                          f'</w:font>' for name, alt in DOCX_ALT_NAMES.items() if f'w:name="{name}"' not in blob)
        part._blob = blob.replace("</w:fonts>", entries + "</w:fonts>").encode("utf-8")

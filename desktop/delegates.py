"""Painting of the library table's special cells: predicted tags as chips, status as a dot."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from . import theme
from .library_model import STATUS_LABELS, ChipsRole, StatusRole


def _background(painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
    opt = QStyleOptionViewItem(option)
    opt.text = ""
    opt.state &= ~QStyle.StateFlag.State_HasFocus
    style = opt.widget.style() if opt.widget else None
    if style is not None:
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)


class ChipsDelegate(QStyledItemDelegate):
    """(name, score, passes) tuples as rounded chips: "Rock 82%". Tags under their threshold
    are drawn muted, so the chips say both what was heard and what would be written."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        _background(painter, option, index)
        chips = index.data(ChipsRole) or []
        if not chips:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = option.font
        small = type(font)(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() - 0.5))
        painter.setFont(small)
        fm = QFontMetrics(small)
        rect = option.rect.adjusted(6, 0, -4, 0)
        h = min(rect.height() - 6, fm.height() + 4)
        y = rect.top() + (rect.height() - h) / 2
        x = rect.left()
        for name, score, passes in chips:
            label = f"{name}"
            pct = f"{score * 100:.0f}%"
            w = fm.horizontalAdvance(label) + fm.horizontalAdvance(pct) + 20
            if x + w > rect.right():
                if x == rect.left():
                    w = rect.right() - x
                else:
                    break
            # tags that reach their threshold (would be written) are solid; the others are
            # tinted by how close they come to it
            bg = theme.color("chip")
            fg = theme.color("chip_text")
            if not passes:
                bg.setAlphaF(0.35 + 0.4 * min(1.0, score / 0.5))
                fg = QColor(fg)
                fg.setAlphaF(0.85)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(bg)
            painter.drawRoundedRect(QRectF(x, y, w, h), h / 2, h / 2)
            painter.setPen(fg)
            text_rect = QRectF(x + 7, y, w - 14, h)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             fm.elidedText(label, Qt.TextElideMode.ElideRight,
                                           int(w - 18 - fm.horizontalAdvance(pct))))
            muted = QColor(fg)
            muted.setAlphaF(0.7)
            painter.setPen(muted)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, pct)
            x += w + 4
        painter.restore()


class PlainDelegate(QStyledItemDelegate):
    """The table's text cells, without the dotted focus frame around the current cell (the
    whole row is selected, so the frame only adds noise)."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        option.state &= ~QStyle.StateFlag.State_HasFocus


class StatusDelegate(QStyledItemDelegate):
    """A coloured dot and the status word."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        _background(painter, option, index)
        status = index.data(StatusRole) or "new"
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(8, 0, -4, 0)
        d = 8
        cy = rect.center().y()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.color(status if status in ("new", "analysed", "written", "error") else "gone"))
        painter.drawEllipse(QRectF(rect.left(), cy - d / 2 + 0.5, d, d))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(theme.color("highlight_text") if selected else theme.color("text"))
        painter.drawText(rect.adjusted(d + 7, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter,
                         STATUS_LABELS.get(status, status))
        painter.restore()

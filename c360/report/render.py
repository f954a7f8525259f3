"""Draw the scorecard: plotly figures and tables into one self-contained HTML page (plotly.js embedded once,
so the file opens offline). ``Page`` collects sections; ``html()`` returns the document."""

from __future__ import annotations

import datetime as dt
import html as _html

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#243b53;color:#fff;padding:18px 32px}header h1{margin:0;font-size:24px}
header p{margin:4px 0 0;color:#bcccdc}nav{padding:8px 32px;background:#fff;border-bottom:1px solid #d9e2ec}
nav a{margin-right:14px;color:#334e68;text-decoration:none;font-size:14px}main{padding:8px 32px 40px}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:16px 0;box-shadow:0 1px 2px #0001}
h2{margin:0 0 8px;font-size:19px}.tiles{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.tile{background:#f0f4f8;border-radius:6px;padding:10px 14px;min-width:130px}
.tile b{display:block;font-size:20px}.tile span{font-size:12px;color:#627d98}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:12px}
table.data{border-collapse:collapse;font-size:13px;margin:8px 0}
table.data th,table.data td{border-bottom:1px solid #e4e7eb;padding:4px 10px;text-align:right}
table.data th:first-child,table.data td:first-child{text-align:left}.note{color:#627d98;font-size:13px}
.fail{color:#b42318;font-weight:600}.ok{color:#027a48}
"""


def fmt(v) -> str:
    """Numbers for people: thousands separators, two decimals for fractions, dashes for missing."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.2f}" if abs(v) >= 1 else f"{v:.3f}"
    return str(v)


class Page:
    def __init__(self, title: str, subtitle: str):
        self.title, self.subtitle = title, subtitle
        self.sections: list[tuple[str, str, list[str]]] = []
        self._plotly_included = False
        self._n = 0

    def section(self, anchor: str, title: str) -> list[str]:
        parts: list[str] = []
        self.sections.append((anchor, title, parts))
        return parts

    def figure(self, fig: go.Figure, height: int = 360) -> str:
        """A plotly figure as a div; the first one carries plotly.js itself (inline, offline)."""
        self._n += 1
        fig.update_layout(height=height, margin={"l": 50, "r": 20, "t": 40, "b": 50}, template="plotly_white")
        out = pio.to_html(fig, include_plotlyjs=not self._plotly_included, full_html=False,
                          div_id=f"fig{self._n}", config={"displaylogo": False, "responsive": True})
        self._plotly_included = True
        return f'<div class="figure">{out}</div>'

    @staticmethod
    def tiles(items: dict) -> str:
        cells = "".join(f'<div class="tile"><b>{_html.escape(fmt(v))}</b><span>{_html.escape(k)}</span></div>'
                        for k, v in items.items())
        return f'<div class="tiles">{cells}</div>'

    @staticmethod
    def table(df: pd.DataFrame, classes: dict[str, str] | None = None) -> str:
        if df is None or df.empty:
            return '<p class="note">No rows.</p>'
        head = "".join(f"<th>{_html.escape(str(c))}</th>" for c in df.columns)
        body = []
        for _, row in df.iterrows():
            cells = []
            for c in df.columns:
                v = row[c]
                css = (classes or {}).get(str(v)) if isinstance(v, str | bool) else None
                cells.append(f'<td class="{css}">' if css else "<td>")
                cells.append(_html.escape(fmt(v.item() if hasattr(v, "item") else v)) + "</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'

    @staticmethod
    def note(text: str) -> str:
        return f'<p class="note">{_html.escape(text)}</p>'

    def html(self) -> str:
        nav = "".join(f'<a href="#{a}">{_html.escape(t)}</a>' for a, t, _ in self.sections)
        body = "".join(f'<section id="{a}"><h2>{_html.escape(t)}</h2>{"".join(parts)}</section>'
                       for a, t, parts in self.sections)
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_html.escape(self.title)}"
                f"</title><meta name='viewport' content='width=device-width, initial-scale=1'><style>{STYLE}</style>"
                f"</head><body><header><h1>{_html.escape(self.title)}</h1><p>{_html.escape(self.subtitle)}</p>"
                f"</header><nav>{nav}</nav><main>{body}</main></body></html>")


# --------------------------------------------------------------------------------------------- figures
def bars(df: pd.DataFrame, x: str, ys: list[str], title: str, barmode: str = "group",
         horizontal: bool = False) -> go.Figure:
    fig = go.Figure()
    for y in ys:
        fig.add_bar(name=y, **({"y": df[x].astype(str), "x": df[y], "orientation": "h"} if horizontal
                               else {"x": df[x].astype(str), "y": df[y]}))
    fig.update_layout(title=title, barmode=barmode, showlegend=len(ys) > 1)
    return fig


def binned(df: pd.DataFrame, title: str, x_title: str) -> go.Figure:
    """A pre-binned histogram (``left``, ``right``, ``count``)."""
    mids = (df["left"] + df["right"]) / 2
    fig = go.Figure(go.Bar(x=mids, y=df["count"], width=(df["right"] - df["left"]) * 0.95,
                           hovertext=[f"{a:,.2f} – {b:,.2f}" for a, b in zip(df["left"], df["right"], strict=True)]))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title="customers", bargap=0.02)
    return fig


def stacked_area(df: pd.DataFrame, x: str, ys: list[str], title: str) -> go.Figure:
    fig = go.Figure()
    for y in ys:
        fig.add_scatter(x=df[x], y=df[y], name=y, mode="lines", stackgroup="one")
    fig.update_layout(title=title, yaxis_title="customers")
    return fig


def heatmap(df: pd.DataFrame, x: str, y: str, z: str, title: str) -> go.Figure:
    grid = df.pivot(index=y, columns=x, values=z)
    fig = go.Figure(go.Heatmap(z=grid.values, x=[str(c) for c in grid.columns], y=[str(i) for i in grid.index],
                               colorscale="Blues", text=grid.values, texttemplate="%{text}"))
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y)
    return fig


def subtitle(as_of: dt.date | None, warehouse: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"As of {as_of.isoformat() if as_of else '–'} · warehouse {warehouse} · written {stamp}"

"""`report.html`: the figures as charts in one self-contained file.

The page carries its data as JSON and a few lines of plain JavaScript that draw SVG charts, so it
opens from disk (`file://`) with no server, no network and no library: MRR per month with its
movements as bars above and below zero, and net revenue per day, for each account and currency.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

from stripe_source.analytics.figures import MOVEMENTS, Series, in_units

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Stripe report: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1a1f36; }}
h1 {{ font-size: 1.4rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
.meta {{ color: #697386; }}
.chart {{ display: block; margin: .5rem 0 1.5rem; }}
.chart text {{ font-size: 11px; fill: #697386; }}
.legend span {{ margin-right: 1rem; font-size: .85rem; }}
.legend i {{ display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; }}
</style>
</head>
<body>
<h1>Stripe report: {title}</h1>
<p class="meta">Built {built} from the views in the dataset. Amounts in currency units;
MRR is taken at each month's end (the current month: at the last sync).</p>
<div id="charts"></div>
<script type="application/json" id="report-data">{data}</script>
<script>
{script}
</script>
</body>
</html>
"""

# Draws one section per series: an MRR line chart with movement bars, then daily net revenue.
SCRIPT = """
const COLORS = {new: "#09825d", expansion: "#3ecf8e", reactivated: "#1ea7fd",
  contraction: "#f5a623", churned: "#df1b41", mrr: "#635bff", revenue: "#635bff"};
const SVG = "http://www.w3.org/2000/svg";
const data = JSON.parse(document.getElementById("report-data").textContent);
const root = document.getElementById("charts");

function node(name, attributes, parent) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (parent) parent.appendChild(element);
  return element;
}

function tip(element, text) {
  node("title", {}, element).textContent = text;
  return element;
}

const money = v => v.toLocaleString(undefined,
  {minimumFractionDigits: 2, maximumFractionDigits: 2});

function chart(kind, labels, lows, highs) {
  const width = 760, height = 240, left = 70, bottom = 30, top = 10;
  const svg = node("svg", {class: "chart", "data-chart": kind, width, height,
    viewBox: `0 0 ${width} ${height}`});
  const low = Math.min(0, ...lows), high = Math.max(1, ...highs);
  const y = v => top + (height - top - bottom) * (high - v) / (high - low);
  const step = (width - left - 10) / Math.max(labels.length, 1);
  const x = i => left + step * (i + 0.5);
  node("line", {x1: left, x2: width - 10, y1: y(0), y2: y(0), stroke: "#c1c9d2"}, svg);
  for (const v of [low, high]) {
    const label = node("text", {x: left - 6, y: y(v) + 4, "text-anchor": "end"}, svg);
    label.textContent = v.toLocaleString(undefined, {maximumFractionDigits: 0});
  }
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((text, i) => {
    if (i % every) return;
    const label = node("text", {x: x(i), y: height - 10, "text-anchor": "middle"}, svg);
    label.textContent = text;
  });
  return {svg, x, y, step};
}

function legend(names) {
  const box = document.createElement("div");
  box.className = "legend";
  for (const name of names) {
    const item = document.createElement("span");
    item.innerHTML = `<i style="background:${COLORS[name]}"></i>${name}`;
    box.appendChild(item);
  }
  return box;
}

function mrrChart(series) {
  const months = series.months;
  const ups = months.map(m => m.new + m.expansion + m.reactivated);
  const downs = months.map(m => m.contraction + m.churned);
  const c = chart("mrr", months.map(m => m.month.slice(0, 7)), downs,
    months.map((m, i) => Math.max(m.mrr, ups[i])));
  const bar = c.step * 0.6;
  months.forEach((m, i) => {
    let above = 0, below = 0;
    for (const name of ["new", "reactivated", "expansion", "contraction", "churned"]) {
      const v = m[name];
      if (!v) continue;
      const from = v > 0 ? above : below, to = from + v;
      if (v > 0) above = to; else below = to;
      tip(node("rect", {class: "movement", "data-movement": name, "data-value": v,
        x: c.x(i) - bar / 2, width: bar, y: c.y(Math.max(from, to)),
        height: Math.abs(c.y(from) - c.y(to)), fill: COLORS[name], opacity: 0.8}, c.svg),
        `${m.month.slice(0, 7)} ${name}: ${money(v)}`);
    }
  });
  const points = months.map((m, i) => `${c.x(i)},${c.y(m.mrr)}`);
  node("polyline", {class: "mrr-line", points: points.join(" "), fill: "none",
    stroke: COLORS.mrr, "stroke-width": 2}, c.svg);
  months.forEach((m, i) => tip(node("circle", {class: "mrr-point", "data-value": m.mrr,
    cx: c.x(i), cy: c.y(m.mrr), r: 3, fill: COLORS.mrr}, c.svg),
    `${m.month.slice(0, 7)} MRR: ${money(m.mrr)}`));
  return c.svg;
}

function revenueChart(series) {
  const days = series.days;
  const values = days.map(d => d[1]);
  const c = chart("revenue", days.map(d => d[0]), values, values);
  const bar = Math.max(c.step * 0.8, 1);
  days.forEach((d, i) => tip(node("rect", {class: "revenue-day", "data-value": d[1],
    x: c.x(i) - bar / 2, width: bar, y: c.y(Math.max(d[1], 0)),
    height: Math.abs(c.y(0) - c.y(d[1])), fill: COLORS.revenue}, c.svg),
    `${d[0]} net revenue: ${money(d[1])}`));
  return c.svg;
}

for (const series of data.series) {
  const section = document.createElement("section");
  section.dataset.series = `${series.account_id} ${series.currency}`;
  const title = document.createElement("h2");
  title.textContent = `${series.account_id}: ${series.currency.toUpperCase()}`;
  section.appendChild(title);
  if (series.months.length) {
    const heading = document.createElement("h3");
    heading.textContent = "MRR and its movements per month";
    section.append(heading, legend(["mrr", ...data.movements]), mrrChart(series));
  }
  if (series.days.length) {
    const heading = document.createElement("h3");
    heading.textContent = "Net revenue per day (days with balance activity)";
    section.append(heading, revenueChart(series));
  }
  root.appendChild(section);
}
"""


def _units(amount: float, currency: str) -> float:
    return round(in_units(amount, currency), 2)


def report_data(series: list[Series]) -> dict:
    """What the page's script draws, in currency units."""
    return {
        "movements": list(MOVEMENTS),
        "series": [
            {
                "account_id": s.account_id,
                "currency": s.currency,
                "months": [
                    {
                        "month": m.month.isoformat(),
                        "mrr": _units(m.mrr, s.currency),
                        **{name: _units(value, s.currency) for name, value in m.movements.items()},
                    }
                    for m in s.months
                ],
                "days": [[day.isoformat(), _units(amount, s.currency)] for day, amount in s.days],
            }
            for s in series
        ],
    }


def write_report(series: list[Series], directory: Path, title: str) -> Path:
    """Write `report.html` into `directory` (created if missing) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    # `</` cannot end the JSON's script element early once its slash is escaped
    data = json.dumps(report_data(series)).replace("</", "<\\/")
    page = PAGE.format(
        title=html.escape(title),
        built=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        data=data,
        script=SCRIPT.strip(),
    )
    path = directory / "report.html"
    path.write_text(page, encoding="utf-8")
    return path

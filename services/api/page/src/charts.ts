import { CategoryScale, Chart, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip, type Plugin } from 'chart.js';
import { INSTRUMENT_LABEL, type SeverityBand } from '@kap/domain';
import type { ChartDrawer } from './app';
import type { ChartSpec, ScoreChart, VitalsChart } from './render';

/** Chart.js draws what render.ts describes. Only what a line chart needs is bundled. */
Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Tooltip, Legend);

const BAND_COLOURS: Readonly<Record<SeverityBand, string>> = {
  minimal: 'rgba(46, 125, 50, 0.13)',
  mild: 'rgba(249, 168, 37, 0.16)',
  moderate: 'rgba(239, 108, 0, 0.17)',
  'moderately-severe': 'rgba(216, 67, 21, 0.19)',
  severe: 'rgba(183, 28, 28, 0.2)',
};
const INK = '#263238';

/** The severity bands behind the totals, each labelled with its range. */
function bandsPlugin(spec: ScoreChart): Plugin<'line'> {
  return {
    id: 'severityBands',
    beforeDatasetsDraw(chart) {
      const { chartArea: area, ctx } = chart;
      const y = chart.scales.y;
      if (!y) return;
      ctx.save();
      for (const b of spec.bands) {
        const top = y.getPixelForValue(Math.min(b.max + 0.5, spec.max));
        const bottom = y.getPixelForValue(Math.max(b.min - 0.5, 0));
        ctx.fillStyle = BAND_COLOURS[b.band];
        ctx.fillRect(area.left, top, area.right - area.left, bottom - top);
        ctx.fillStyle = '#37474f';
        ctx.font = '12px system-ui, sans-serif';
        ctx.textAlign = 'right';
        ctx.textBaseline = 'middle';
        ctx.fillText(`${b.label} ${b.min}–${b.max}`, area.right - 6, (top + bottom) / 2);
      }
      ctx.restore();
    },
  };
}

/** Each total written above its point: the number matters more than the line. */
const valueLabels: Plugin<'line'> = {
  id: 'valueLabels',
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const data = chart.data.datasets[0]?.data ?? [];
    ctx.save();
    ctx.font = 'bold 13px system-ui, sans-serif';
    ctx.fillStyle = '#0b1f33';
    ctx.textAlign = 'center';
    chart.getDatasetMeta(0).data.forEach((pt, j) => ctx.fillText(String(data[j]), pt.x, pt.y - 12));
    ctx.restore();
  },
};

function scoreChart(spec: ScoreChart): Chart<'line'> {
  return new Chart(spec.canvas, {
    type: 'line',
    data: {
      labels: spec.labels,
      datasets: [
        {
          label: `${INSTRUMENT_LABEL[spec.instrument].name} total`,
          data: spec.totals,
          borderColor: '#0d47a1',
          backgroundColor: '#0d47a1',
          borderWidth: 3,
          pointRadius: 5,
          pointHoverRadius: 7,
          tension: 0,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      layout: { padding: { top: 18 } },
      scales: {
        y: {
          min: 0,
          max: spec.max,
          ticks: { stepSize: 3, color: INK },
          title: { display: true, text: 'Total score', color: INK },
          grid: { color: 'rgba(0,0,0,0.06)' },
        },
        x: { offset: true, ticks: { color: INK }, grid: { display: false } },
      },
      plugins: { legend: { display: false }, tooltip: { enabled: true } },
    },
    plugins: [bandsPlugin(spec), valueLabels],
  });
}

function vitalsChart(spec: VitalsChart): Chart<'line'> {
  const flat = (value: number): number[] => spec.labels.map(() => value);
  return new Chart(spec.canvas, {
    type: 'line',
    data: {
      labels: spec.labels,
      datasets: [
        {
          label: 'Systolic',
          data: spec.systolic,
          borderColor: '#b71c1c',
          backgroundColor: spec.above.map((a) => (a ? '#b71c1c' : '#ffffff')),
          pointRadius: 4,
          borderWidth: 2,
        },
        { label: 'Diastolic', data: spec.diastolic, borderColor: '#0d47a1', backgroundColor: '#ffffff', pointRadius: 4, borderWidth: 2 },
        {
          label: 'Heart rate',
          data: spec.heartRate,
          borderColor: '#37474f',
          backgroundColor: '#37474f',
          pointRadius: 3,
          borderWidth: 1.5,
          borderDash: [2, 3],
        },
        {
          label: `Systolic alert above ${spec.threshold.systolicAbove}`,
          data: flat(spec.threshold.systolicAbove),
          borderColor: '#b71c1c',
          borderDash: [8, 5],
          borderWidth: 1.5,
          pointRadius: 0,
        },
        {
          label: `Diastolic alert above ${spec.threshold.diastolicAbove}`,
          data: flat(spec.threshold.diastolicAbove),
          borderColor: '#0d47a1',
          borderDash: [8, 5],
          borderWidth: 1.5,
          pointRadius: 0,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        y: { suggestedMin: 40, suggestedMax: 190, ticks: { color: INK }, title: { display: true, text: 'mmHg · beats/min', color: INK } },
        x: { ticks: { color: INK } },
      },
      plugins: { legend: { position: 'bottom', labels: { color: INK, boxWidth: 18 } } },
    },
  });
}

export function chartJsDrawer(): ChartDrawer {
  let drawn: Chart<'line'>[] = [];
  return {
    draw(charts: readonly ChartSpec[]) {
      for (const c of drawn) c.destroy();
      drawn = charts.map((spec) => (spec.kind === 'score' ? scoreChart(spec) : vitalsChart(spec)));
    },
  };
}

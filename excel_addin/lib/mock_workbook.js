// A workbook mocked with Microsoft's office-addin-mock, for the task pane's tests and
// its benchmark: the selection holds `values` at `row`, `column` (0-based); every range
// written and every chart added on the active sheet is recorded.
const { OfficeMockObject } = require("office-addin-mock");

function workbook(values, row = 1, column = 0) {
  const written = {};
  const charts = [];
  // Each range remembers what was set on it and in which order (`order`): a text cell's
  // format must be set before its value, or Excel has already read the value.
  const range = (address) => {
    if (!(address in written)) {
      const cell = { address, order: [] };
      for (const name of ["values", "formulas", "numberFormat"]) {
        let stored;
        Object.defineProperty(cell, name, {
          enumerable: true,
          get: () => stored,
          set: (value) => {
            stored = value;
            cell.order.push(name);
          },
        });
      }
      written[address] = cell;
    }
    return written[address];
  };
  const mock = new OfficeMockObject({
    context: {
      workbook: {
        selected: {
          rowIndex: row,
          columnIndex: column,
          rowCount: values.length,
          columnCount: values[0].length,
          values,
        },
        getSelectedRange() {
          return this.selected;
        },
        worksheets: {
          sheet: {
            getRange: range,
            charts: {
              add(type, source, seriesBy) {
                const chart = {
                  type, source: source.address, seriesBy, title: {}, series: [],
                  setPosition(from, to) { chart.position = [from, to]; },
                };
                const series = (name) => {
                  const s = { name, setXAxisValues: (r) => { s.x = r.address; },
                              setValues: (r) => { s.values = r.address; } };
                  chart.series.push(s);
                  return s;
                };
                series(null).values = source.address;
                chart.series.getItemAt = (i) => chart.series[i];
                chart.series.add = series;
                charts.push(chart);
                return chart;
              },
            },
          },
          getActiveWorksheet() {
            return this.sheet;
          },
        },
      },
    },
  });
  return { context: mock.context, written, charts };
}

function monthly(n) {
  const rows = [["Month", "Revenue"]];
  for (let i = 0; i < n; i++) {
    rows.push([Date.UTC(2021, i, 1) / 86400000 + 25569, 200 + 3 * i + 40 * Math.sin((2 * Math.PI * i) / 12)]);
  }
  return rows;
}

module.exports = { workbook, monthly };

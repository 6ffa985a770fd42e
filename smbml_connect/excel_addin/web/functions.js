// Generated from smbml_connect/functions.py by `python -m smbml_connect.excel_addin.officejs`:
// do not edit. Each function hands its cells to smbCall (client.js), which batches
// the calls of one recalculation into one request to `smbml serve`.
/* global smbCall, CustomFunctions */

/**
 * Learns from the rows that have an outcome and scores the rest 0-100, with tier A-D and the top reasons. Spills: score, tier, reasons.
 * @customfunction LEADSCORE
 * @param {any[][]} table_with_header Your leads table, header row included, with an outcome column (yes/no, blank for the leads to score)
 * @param {string} [target_column] Header of the outcome column (default: a column named like converted/won/outcome, else the last)
 * @param {any} [all_rows] TRUE scores every row, those with an outcome too; FALSE (default) leaves those blank
 * @param {any} [headers] TRUE (default) spills a header row first; FALSE leaves it out
 * @returns {any[][]} A table with a header row.
 */
function leadscore(table_with_header, target_column, all_rows, headers) {
  return smbCall("LEADSCORE", [table_with_header, target_column, all_rows, headers]);
}

/**
 * The lead score of a synced contact, as stored by the last run. Spills: score, tier, reasons, scored at.
 * @customfunction LEADSCORE_OF
 * @param {string} email_or_id The contact's email address or id
 * @param {any} [headers] TRUE (default) spills a header row first; FALSE leaves it out
 * @returns {any[][]} A table with a header row.
 */
function leadscore_of(email_or_id, headers) {
  return smbCall("LEADSCORE_OF", [email_or_id, headers]);
}

/**
 * RFM segment per customer (Champions, Loyal, At risk...) from their orders. Spills: customer, segment, days since last order, orders, spend, RFM.
 * @customfunction SEGMENT
 * @param {any[][]} customer_ids Customer id or email of each order
 * @param {any[][]} order_dates Date of each order
 * @param {any[][]} amounts Amount of each order
 * @param {any} [as_of] Date to measure from, or "today" (default: the day after the last order)
 * @param {any} [headers] TRUE (default) spills a header row first; FALSE leaves it out
 * @returns {any[][]} A table with a header row.
 */
function segment(customer_ids, order_dates, amounts, as_of, headers) {
  return smbCall("SEGMENT", [customer_ids, order_dates, amounts, as_of, headers]);
}

/**
 * Chance each customer buys nothing in the next 12 months, and their expected value with an 80% range. Spills: customer, churn risk, expected value (12 months), value low (80%), value high (80%), chance still active.
 * @customfunction CHURN
 * @param {any[][]} customer_ids Customer id or email of each order
 * @param {any[][]} order_dates Date of each order
 * @param {any[][]} amounts Amount of each order
 * @param {any} [as_of] Date to measure from, or "today" (default: the day after the last order)
 * @param {any} [headers] TRUE (default) spills a header row first; FALSE leaves it out
 * @returns {any[][]} A table with a header row.
 */
function churn(customer_ids, order_dates, amounts, as_of, headers) {
  return smbCall("CHURN", [customer_ids, order_dates, amounts, as_of, headers]);
}

/**
 * Forecast of a sales series with a low-high range; the frequency and the season are found from the dates. Spills: date, forecast, low (80%), high (80%).
 * @customfunction FORECAST
 * @param {any[][]} dates Dates of the history (daily, weekly, monthly or quarterly)
 * @param {any[][]} values Values of the history, one per date
 * @param {any} horizon How many periods ahead
 * @param {any} [season_length] Periods per season, e.g. 12 for months (default: found)
 * @param {any} [level] Range width: 0.8 or 80 for 80% (default), 0.95 or 95 for 95%
 * @param {any} [headers] TRUE (default) spills a header row first; FALSE leaves it out
 * @returns {any[][]} A table with a header row.
 */
function forecast(dates, values, horizon, season_length, level, headers) {
  return smbCall("FORECAST", [dates, values, horizon, season_length, level, headers]);
}

/**
 * Suggested price from past prices and units sold at them, with the price elasticity and how sure it is. Spills: suggested price, elasticity, confidence, reason.
 * @customfunction PRICE
 * @param {any[][]} prices Price in each period
 * @param {any[][]} quantities Units sold in each period
 * @param {any} [unit_cost] Cost of one unit (keeps the price above it)
 * @param {any} [max_change] Largest change in one step, e.g. 10% (default 10%)
 * @param {any} [headers] TRUE (default) spills a header row first; FALSE leaves it out
 * @param {any[][]} [dates] Date of each period: a trend in sales is then held apart from the price
 * @returns {any[][]} A table with a header row.
 */
function price(prices, quantities, unit_cost, max_change, headers, dates) {
  return smbCall("PRICE", [prices, quantities, unit_cost, max_change, headers, dates]);
}

/**
 * Chance version B beats A, the lift with a 95% range, and the visitors each version still needs. Spills: chance B beats A, lift, lift low (95%), lift high (95%), more visitors on A, more visitors on B, verdict.
 * @customfunction ABTEST
 * @param {any} conversions_a Conversions of version A
 * @param {any} visitors_a Visitors of version A
 * @param {any} conversions_b Conversions of version B
 * @param {any} visitors_b Visitors of version B
 * @param {any} [headers] TRUE (default) spills a header row first; FALSE leaves it out
 * @returns {any[][]} A table with a header row.
 */
function abtest(conversions_a, visitors_a, conversions_b, visitors_b, headers) {
  return smbCall("ABTEST", [conversions_a, visitors_a, conversions_b, visitors_b, headers]);
}

/**
 * Excel's FORECAST.ETS (AAA exponential smoothing), same arguments: the forecast at each target date. Spills: forecast.
 * @customfunction FORECAST.ETS
 * @param {any[][]} target_date The date (or range of dates) to forecast, after the end of the timeline
 * @param {any[][]} values The history: one number per point of the timeline
 * @param {any[][]} timeline Dates (or numbers) with a constant step, e.g. the 1st of each month; need not be sorted
 * @param {any} [seasonality] 1 (default) finds the season, 0 means none, n means n points per season (up to 8760)
 * @param {any} [data_completion] 1 (default) fills missing points from their neighbours, 0 counts them as zero
 * @param {any} [aggregation] How values on the same date combine: 1 AVERAGE (default), 2 COUNT, 3 COUNTA, 4 MAX, 5 MEDIAN, 6 MIN, 7 SUM
 * @returns {any[][]} One value per target.
 */
function forecast_ets(target_date, values, timeline, seasonality, data_completion, aggregation) {
  return smbCall("FORECAST.ETS", [target_date, values, timeline, seasonality, data_completion, aggregation]);
}

/**
 * Excel's FORECAST.ETS.CONFINT: half the width of the range around the forecast at each target date. Spills: half width.
 * @customfunction FORECAST.ETS.CONFINT
 * @param {any[][]} target_date The date (or range of dates) to forecast, after the end of the timeline
 * @param {any[][]} values The history: one number per point of the timeline
 * @param {any[][]} timeline Dates (or numbers) with a constant step, e.g. the 1st of each month; need not be sorted
 * @param {any} [confidence_level] Between 0 and 1 (default 0.95)
 * @param {any} [seasonality] 1 (default) finds the season, 0 means none, n means n points per season (up to 8760)
 * @param {any} [data_completion] 1 (default) fills missing points from their neighbours, 0 counts them as zero
 * @param {any} [aggregation] How values on the same date combine: 1 AVERAGE (default), 2 COUNT, 3 COUNTA, 4 MAX, 5 MEDIAN, 6 MIN, 7 SUM
 * @returns {any[][]} One value per target.
 */
function forecast_ets_confint(target_date, values, timeline, confidence_level, seasonality, data_completion, aggregation) {
  return smbCall("FORECAST.ETS.CONFINT", [target_date, values, timeline, confidence_level, seasonality, data_completion, aggregation]);
}

/**
 * Excel's FORECAST.ETS.SEASONALITY: the season length found (0 for none). Spills: season length.
 * @customfunction FORECAST.ETS.SEASONALITY
 * @param {any[][]} values The history: one number per point of the timeline
 * @param {any[][]} timeline Dates (or numbers) with a constant step, e.g. the 1st of each month; need not be sorted
 * @param {any} [data_completion] 1 (default) fills missing points from their neighbours, 0 counts them as zero
 * @param {any} [aggregation] How values on the same date combine: 1 AVERAGE (default), 2 COUNT, 3 COUNTA, 4 MAX, 5 MEDIAN, 6 MIN, 7 SUM
 * @returns {any[][]} One value per target.
 */
function forecast_ets_seasonality(values, timeline, data_completion, aggregation) {
  return smbCall("FORECAST.ETS.SEASONALITY", [values, timeline, data_completion, aggregation]);
}

if (typeof CustomFunctions !== "undefined") {
  CustomFunctions.associate("LEADSCORE", leadscore);
  CustomFunctions.associate("LEADSCORE_OF", leadscore_of);
  CustomFunctions.associate("SEGMENT", segment);
  CustomFunctions.associate("CHURN", churn);
  CustomFunctions.associate("FORECAST", forecast);
  CustomFunctions.associate("PRICE", price);
  CustomFunctions.associate("ABTEST", abtest);
  CustomFunctions.associate("FORECAST.ETS", forecast_ets);
  CustomFunctions.associate("FORECAST.ETS.CONFINT", forecast_ets_confint);
  CustomFunctions.associate("FORECAST.ETS.SEASONALITY", forecast_ets_seasonality);
}
if (typeof module !== "undefined") {
  module.exports = { leadscore, leadscore_of, segment, churn, forecast, price, abtest, forecast_ets, forecast_ets_confint, forecast_ets_seasonality };
}

// Generated from smbml_connect/functions.py by `python -m smbml_connect.excel_addin.officejs`:
// do not edit. Each function hands its cells to smbCall (client.js), which batches
// the calls of one recalculation into one request to `smbml serve`.
/* global smbCall, CustomFunctions */

/**
 * Learns from the rows that have an outcome and scores the rest 0-100, with tier A-D and the top reasons. Spills: score, tier, reasons.
 * @customfunction LEADSCORE
 * @param {any[][]} table_with_header Your leads table, header row included, with an outcome column (yes/no, blank for the leads to score)
 * @param {string} [target_column] Header of the outcome column (default: a column named like converted/won/outcome, else the last)
 * @returns {any[][]} A table with a header row.
 */
function leadscore(table_with_header, target_column) {
  return smbCall("LEADSCORE", [table_with_header, target_column]);
}

/**
 * The lead score of a synced contact, as stored by the last run. Spills: score, tier, reasons, scored at.
 * @customfunction LEADSCORE_OF
 * @param {string} email_or_id The contact's email address or id
 * @returns {any[][]} A table with a header row.
 */
function leadscore_of(email_or_id) {
  return smbCall("LEADSCORE_OF", [email_or_id]);
}

/**
 * RFM segment per customer (Champions, Loyal, At risk...) from their orders. Spills: customer, segment, days since last order, orders, spend, RFM.
 * @customfunction SEGMENT
 * @param {any[][]} customer_ids Customer id or email of each order
 * @param {any[][]} order_dates Date of each order
 * @param {any[][]} amounts Amount of each order
 * @param {any} [as_of] Date to measure from (default: the day after the last order)
 * @returns {any[][]} A table with a header row.
 */
function segment(customer_ids, order_dates, amounts, as_of) {
  return smbCall("SEGMENT", [customer_ids, order_dates, amounts, as_of]);
}

/**
 * Chance each customer buys nothing in the next 12 months, and their expected value with an 80% range. Spills: customer, churn risk, expected value (12 months), value low (80%), value high (80%), chance still active.
 * @customfunction CHURN
 * @param {any[][]} customer_ids Customer id or email of each order
 * @param {any[][]} order_dates Date of each order
 * @param {any[][]} amounts Amount of each order
 * @param {any} [as_of] Date to measure from (default: the day after the last order)
 * @returns {any[][]} A table with a header row.
 */
function churn(customer_ids, order_dates, amounts, as_of) {
  return smbCall("CHURN", [customer_ids, order_dates, amounts, as_of]);
}

/**
 * Forecast of a sales series with a low-high range; the frequency and the season are found from the dates. Spills: date, forecast, low (80%), high (80%).
 * @customfunction FORECAST
 * @param {any[][]} dates Dates of the history (daily, weekly, monthly or quarterly)
 * @param {any[][]} values Values of the history, one per date
 * @param {number} horizon How many periods ahead
 * @param {number} [season_length] Periods per season, e.g. 12 for months (default: found)
 * @param {number} [level] Range width in percent (default 80)
 * @returns {any[][]} A table with a header row.
 */
function forecast(dates, values, horizon, season_length, level) {
  return smbCall("FORECAST", [dates, values, horizon, season_length, level]);
}

/**
 * Suggested price from past prices and units sold at them, with the price elasticity and how sure it is. Spills: suggested price, elasticity, confidence, reason.
 * @customfunction PRICE
 * @param {any[][]} prices Price in each period
 * @param {any[][]} quantities Units sold in each period
 * @param {number} [unit_cost] Cost of one unit (keeps the price above it)
 * @param {number} [max_change] Largest change in one step, e.g. 10% (default 10%)
 * @returns {any[][]} A table with a header row.
 */
function price(prices, quantities, unit_cost, max_change) {
  return smbCall("PRICE", [prices, quantities, unit_cost, max_change]);
}

/**
 * Chance version B beats A, the lift with a 95% range, and the visitors still needed per version. Spills: chance B beats A, lift, lift low (95%), lift high (95%), visitors still needed, verdict.
 * @customfunction ABTEST
 * @param {number} conversions_a Conversions of version A
 * @param {number} visitors_a Visitors of version A
 * @param {number} conversions_b Conversions of version B
 * @param {number} visitors_b Visitors of version B
 * @returns {any[][]} A table with a header row.
 */
function abtest(conversions_a, visitors_a, conversions_b, visitors_b) {
  return smbCall("ABTEST", [conversions_a, visitors_a, conversions_b, visitors_b]);
}

if (typeof CustomFunctions !== "undefined") {
  CustomFunctions.associate("LEADSCORE", leadscore);
  CustomFunctions.associate("LEADSCORE_OF", leadscore_of);
  CustomFunctions.associate("SEGMENT", segment);
  CustomFunctions.associate("CHURN", churn);
  CustomFunctions.associate("FORECAST", forecast);
  CustomFunctions.associate("PRICE", price);
  CustomFunctions.associate("ABTEST", abtest);
}
if (typeof module !== "undefined") {
  module.exports = { leadscore, leadscore_of, segment, churn, forecast, price, abtest };
}

"""Forecasting and anomaly detection of time series (statsmodels, pandas, numpy).

The library behind `hxgen analyze` and the hx-analytics service: series (the CSV contract),
seasonality (a regular grid, daily and weekly seasons), forecast and anomaly.
"""

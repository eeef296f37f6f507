-- Which events get a fraud decision, and the score thresholds.
fraud_policy { on = { "Order Completed" }, review_at = 50, block_at = 80 }

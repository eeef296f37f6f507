-- Customer care: an angry review (English or Spanish) reaches a person the same hour.

promotion "angry_review_alert" {
  description = "A review whose text reads angry (sentiment -0.5 or lower) or a 1-star rating with negative text",
  on = "Product Reviewed",
  marketing = false,
  when = function(e)
    local score = sentiment(e.properties.review_body or e.properties.text or "")
    return score <= -0.5 or ((e.properties.rating or 5) <= 1 and score < 0)
  end,
  run = function(e, c, act)
    local p = e.properties
    act:alert{ channel = "care", severity = "warning",
               message = ("angry review of %s by %s (sentiment %.2f): %s"):format(
                 p.product_id or p.sku or "?", c.id, sentiment(p.review_body or p.text or ""), p.review_body or p.text or "") }
  end,
}

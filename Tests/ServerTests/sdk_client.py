"""Sends events to a Crescent server with the real Segment and RudderStack
Python SDKs, gzip on, synchronously. Usage: sdk_client.py PORT WRITE_KEY"""
import sys

port, write_key = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}"
errors = []

import segment.analytics as segment

segment.write_key = write_key
segment.host = url
segment.gzip = True
segment.sync_mode = True
segment.max_retries = 0
segment.on_error = lambda error, batch: errors.append(f"segment: {error}")
segment.identify("sdk-segment", {"email": "seg@example.com", "plan": "gold"}, message_id="seg-1")
segment.track("sdk-segment", "Product Viewed", {"product_id": "p1", "price": 12.5}, message_id="seg-2")
segment.page("sdk-segment", category="Docs", name="Home", properties={"url": "https://shop.example/"}, message_id="seg-3")
segment.flush()

import rudderstack.analytics as rudder

rudder.write_key = write_key
rudder.dataPlaneUrl = url
rudder.gzip = True
rudder.sync_mode = True
rudder.max_retries = 0
rudder.on_error = lambda error, batch: errors.append(f"rudder: {error}")
rudder.identify("sdk-rudder", {"email": "rud@example.com"}, message_id="rud-1")
rudder.track("sdk-rudder", "Order Completed", {"order_id": "r-o1", "total": 99.5, "currency": "EUR"}, message_id="rud-2")
rudder.page("sdk-rudder", category="Shop", name="Cart", message_id="rud-3")
rudder.flush()

if errors:
    print("\n".join(errors))
    sys.exit(1)
print("sent")

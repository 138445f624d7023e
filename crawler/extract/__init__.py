"""Pure extraction helpers: bytes/HTML/JSON in, plain values out.

Nothing here touches the network or Scrapy's engine, so every rule can be unit
tested on small handwritten inputs; the spiders only wire these to responses.
"""

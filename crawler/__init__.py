"""The Scrapy crawler: configured sources → spiders → pipelines → inbox (JSONL batches).

Entry points: crawler.runner.crawl() in-process, `python -m crawler.run` in a child process.
"""

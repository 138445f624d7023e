"""The Scrapy crawler: configured sources → spiders → pipelines → inbox (JSONL batches).

Entry points: crawler.runner.crawl() in-process, the shell's `python -m yuqing.crawl_child`
in a child process. Configuration models: crawler.config.
"""

"""Scrapy settings for Yuqing Sentinel, as data (Scrapy's project-settings convention).

crawler.runner layers on top: paths from app.yaml, then each source's own
`settings:` from sources.yaml, then command-line overrides. Defaults are polite
to the small government and newspaper sites being watched.
"""

BOT_NAME = "yuqing_sentinel"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = ("Mozilla/5.0 (compatible; YuqingSentinel/0.1; public-opinion monitoring; "
              "+https://github.com/yuqing-sentinel/yuqing-sentinel)")
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5",
}

# Politeness: obey robots.txt (a source may turn it off in its `settings:`), adapt the
# pace to the server's latency, and never hit one site with more than a few requests at once.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
# Servers on this machine (the demo "internet", test fixtures) need no politeness:
# the runner drops the delays for a source whose start URLs are all loopback.
YUQING_LOOPBACK_FAST = True

# Failures: retry transient ones, give up quickly on dead sites.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"     # the spider's errback logs and counts the failure
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024

# Scrapy >= 2.12 knows only this fingerprinter; 2.11 (still allowed by pyproject) warns without it.
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
# TWISTED_REACTOR: Scrapy's default (asyncio) reactor is fine.

TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_DATEFORMAT = "%Y-%m-%dT%H:%M:%S%z"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    # below HttpCompressionMiddleware (590): sees decompressed bodies
    "crawler.middlewares.PageEncodingMiddleware": 580,
    # after RetryMiddleware (550), before HttpProxyMiddleware (750): a failed proxy is passed over before the
    # retry goes out; each request gets the source's next proxy (none configured: off)
    "crawler.middlewares.ProxyPoolMiddleware": 560,
}
ITEM_PIPELINES = {
    "crawler.pipelines.ValidatePipeline": 100,
    "crawler.pipelines.RunDedupePipeline": 200,
    "crawler.pipelines.SeenStatePipeline": 300,
    "crawler.pipelines.InboxWriterPipeline": 900,
}

# Yuqing Sentinel's own settings (the runner fills the paths from app.yaml).
YUQING_INBOX_DIR = "var/inbox"
YUQING_STATE_PATH = "var/crawl_state.sqlite3"
YUQING_INBOX_BATCH_SIZE = 50            # posts per inbox file: a crash loses at most one batch
YUQING_TIMEZONE = "Asia/Shanghai"       # naive times on pages are read in this zone
YUQING_SOURCE_ENCODING = None           # set from Source.encoding to force a page encoding
YUQING_MAX_UNDECODABLE_RATIO = 0.02     # share of U+FFFD above which a page is rejected as undecodable
YUQING_EXTRA_DOMAINS = []               # hosts besides the start URLs' that links may lead to
# Incremental crawls: skip the detail page of a list row that shows what it showed when its post was
# last delivered, stop paging a list or a search once a whole page holds nothing new. For lists and
# searches sorted newest first; engagement counts of posts on skipped pages are then not refreshed.
YUQING_INCREMENTAL = False

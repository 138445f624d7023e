"""`python -m index.elasticsearch.kibana build | kibana import …`"""
import sys

from . import main

sys.exit(main())

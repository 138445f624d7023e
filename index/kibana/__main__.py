"""`python -m index.kibana build | kibana import …`"""
import sys

from . import main

sys.exit(main())

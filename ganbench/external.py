"""Old import path of ``ganbench.generators.loading`` (loading external generators)."""

from ganbench.generators.loading import *  # noqa: F401,F403
from ganbench.generators.loading import (  # noqa: F401  (private names some callers used)
    _dims, _import_entry_point, extract_state_dict, safe_torch_load, target_kind)

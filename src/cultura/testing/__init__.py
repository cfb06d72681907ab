"""Testing support shipped with cultura: tiny models, a local Hub-compatible server, and the
conformance suite plugin authors run on their plugins."""

"""Guest CPU definitions: state layout, decoders, translators to IR, helpers."""

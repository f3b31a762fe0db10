"""The sales area: where a vend is decided (:mod:`.steps`) and recorded (:mod:`.desk`)."""

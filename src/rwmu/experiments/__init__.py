"""End-to-end experiments: ``rwmu demo`` (:mod:`.demo`), ``rwmu sweep`` (:mod:`.sweep`) and report writing
(:mod:`.report`)."""

"""End-to-end experiments: ``rwmu demo`` (:mod:`.demo`, its report :mod:`.demo_report`), ``rwmu sweep``
(:mod:`.sweep`, checkpoint curves :mod:`.sweep_curve`), report writing (:mod:`.report`) and folder layout
(:mod:`.paths`)."""

"""The executable spec: the documented 2.x loop pseudocode as pure Python (no torch).

Given a configuration, it produces the expected **entry-order** hook trace — seed 002's ``fit``,
``fit_loop`` and ``val_loop`` pseudocode, made precise with Lightning 2.6's observed behaviour
(``shared/lightning-2x-facts.md`` §1, §2). Each place where the code departs from the doc text is
marked ``DEPARTS`` in ``fit.py`` / ``evaluation.py`` / ``calls.py``.

* ``hooks.py`` — the hook vocabulary and the event spelling shared with the recorder
* ``config.py`` — :class:`FitConfig`, :class:`EvalConfig`, derived batch counts, invalid configs
* ``calls.py`` — dispatch rules (callbacks vs module vs DataModule, checkpoint hook order)
* ``fit.py`` — ``fit()`` / ``fit_loop()``; ``evaluation.py`` — ``val_loop()``, validate/test/predict
* ``strategies.py`` — hypothesis strategies over configurations
"""

from conformance.spec.calls import Calls
from conformance.spec.config import EvalConfig, FitConfig, InvalidConfig
from conformance.spec.evaluation import evaluate
from conformance.spec.fit import fit

__all__ = [
    "Calls",
    "EvalConfig",
    "FitConfig",
    "InvalidConfig",
    "evaluate",
    "expected_trace",
    "fit",
]


def expected_trace(config: FitConfig | EvalConfig) -> list[str]:
    """The spec's trace for either kind of configuration."""
    return fit(config) if isinstance(config, FitConfig) else evaluate(config)

"""skyflock's ClassAd language: parse, print, evaluate, compile and match.

The public API others build on:

    from skyflock.classad import parse, ClassAd, Expr, UNDEFINED, ERROR, Value
    from skyflock.classad import symmetric_match, rank_of, flatten, ClassAdSyntaxError

Pure: no I/O, no clock, no threads (time and randomness are arguments of
`eval`). The modules: `lexer`/`parser` (text -> `nodes`), `unparse` (tree ->
text), `ad` (the ClassAd), `forms` (new/old/JSON ads), `operators` and
`functions` (value semantics), `runtime`/`evaluate`/`compile` (evaluation),
`refs` (references and flattening), `match` (matchmaking).
"""

from skyflock.classad.ad import ClassAd
from skyflock.classad.errors import ClassAdSyntaxError
from skyflock.classad.match import rank_of, symmetric_match
from skyflock.classad.nodes import Expr
from skyflock.classad.parser import parse
from skyflock.classad.refs import flatten
from skyflock.classad.values import ERROR, UNDEFINED, Error, Undefined, Value

__all__ = [
    "ERROR",
    "UNDEFINED",
    "ClassAd",
    "ClassAdSyntaxError",
    "Error",
    "Expr",
    "Undefined",
    "Value",
    "flatten",
    "parse",
    "rank_of",
    "symmetric_match",
]

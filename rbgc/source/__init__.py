"""A pure reader: files, folders and stdin into plain documents that remember where each value
was written, hostile input refused with a located diagnostic.

`files` reads (one size-capped read for every input), `load` turns YAML text into values with
spans, `shapes` checks what every Kubernetes object shares, `document` is what comes out.
Overlay documents come back as they are (`inputs.load` resolves them).
"""

from rbgc.jsonpath import JsonPath as JsonPath
from rbgc.jsonpath import path_text as path_text
from rbgc.jsonpath import value_at as value_at
from rbgc.source.document import Document as Document
from rbgc.source.document import SpanIndex as SpanIndex
from rbgc.source.files import MAX_FILE_BYTES as MAX_FILE_BYTES
from rbgc.source.files import STDIN as STDIN
from rbgc.source.files import decode as decode
from rbgc.source.files import expand_paths as expand_paths
from rbgc.source.files import read_all as read_all
from rbgc.source.files import read_bytes as read_bytes
from rbgc.source.files import read_path as read_path
from rbgc.source.files import read_text as read_text
from rbgc.source.load import MAX_ALIAS_VALUES as MAX_ALIAS_VALUES
from rbgc.source.load import MAX_DEPTH as MAX_DEPTH
from rbgc.source.load import MAX_INT as MAX_INT
from rbgc.source.load import MAX_VALUES as MAX_VALUES
from rbgc.source.load import MIN_INT as MIN_INT
from rbgc.source.load import count_values as count_values
from rbgc.source.load import parse_text as parse_text
from rbgc.source.shapes import object_shape_problems as object_shape_problems

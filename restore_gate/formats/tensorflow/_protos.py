"""The subset of TensorFlow's protocol buffers `inspect` reads, declared here (no TensorFlow).

Messages are built at run time with `descriptor_pb2` and `message_factory` in a private
descriptor pool (so they never clash with TensorFlow's own classes when both are loaded).
Only the fields the gate reads are declared; the field numbers and types are TensorFlow's
(tensorflow/core/protobuf/{tensor_bundle,trackable_object_graph,saved_model,meta_graph,
saved_object_graph}.proto, core/framework/{tensor_shape,tensor_slice,types,versions,graph,
node_def,function}.proto, core/util/saved_tensor_slice.proto and the Keras 2
python/keras/protobuf/saved_metadata.proto); tests/test_inspect_no_tf.py checks every
declared field against TensorFlow's descriptors. Undeclared fields are kept as unknown
fields, so parsing never fails on them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

PACKAGE = "tensorflow"

# DataType (tensorflow/core/framework/types.proto): number -> (enum name, tf.dtypes name).
# Reference types are the base type + 100 (`float32_ref`).
_BASE_TYPES = {
    1: ("FLOAT", "float32"), 2: ("DOUBLE", "float64"), 3: ("INT32", "int32"),
    4: ("UINT8", "uint8"), 5: ("INT16", "int16"), 6: ("INT8", "int8"), 7: ("STRING", "string"),
    8: ("COMPLEX64", "complex64"), 9: ("INT64", "int64"), 10: ("BOOL", "bool"),
    11: ("QINT8", "qint8"), 12: ("QUINT8", "quint8"), 13: ("QINT32", "qint32"),
    14: ("BFLOAT16", "bfloat16"), 15: ("QINT16", "qint16"), 16: ("QUINT16", "quint16"),
    17: ("UINT16", "uint16"), 18: ("COMPLEX128", "complex128"), 19: ("HALF", "float16"),
    20: ("RESOURCE", "resource"), 21: ("VARIANT", "variant"), 22: ("UINT32", "uint32"),
    23: ("UINT64", "uint64"), 24: ("FLOAT8_E5M2", "float8_e5m2"),
    25: ("FLOAT8_E4M3FN", "float8_e4m3fn"), 26: ("FLOAT8_E4M3FNUZ", "float8_e4m3fnuz"),
    27: ("FLOAT8_E4M3B11FNUZ", "float8_e4m3b11fnuz"), 28: ("FLOAT8_E5M2FNUZ", "float8_e5m2fnuz"),
    29: ("INT4", "int4"), 30: ("UINT4", "uint4"), 31: ("INT2", "int2"), 32: ("UINT2", "uint2"),
    33: ("FLOAT4_E2M1FN", "float4_e2m1fn"),
}
DATA_TYPES: dict[int, tuple[str, str]] = {
    0: ("DT_INVALID", ""),
    **{n: (f"DT_{enum}", name) for n, (enum, name) in _BASE_TYPES.items()},
    **{n + 100: (f"DT_{enum}_REF", f"{name}_ref") for n, (enum, name) in _BASE_TYPES.items()},
}
DT_STRING = 7

_ENUMS = {
    "DataType": [(enum, n) for n, (enum, _) in sorted(DATA_TYPES.items())],
    "BundleHeaderProto.Endianness": [("LITTLE", 0), ("BIG", 1)],
}

# message -> [(field, number, type)]; type: a scalar type, a message or enum of this file,
# `X*` repeated, `map<string,X>`; `field|oneof` puts the field in a oneof.
_MESSAGES: list[tuple[str, list[tuple[str, int, str]]]] = [
    ("VersionDef", [("producer", 1, "int32"), ("min_consumer", 2, "int32"),
                    ("bad_consumers", 3, "int32*")]),
    ("TensorShapeProto", [("dim", 2, "TensorShapeProto.Dim*"), ("unknown_rank", 3, "bool")]),
    ("TensorShapeProto.Dim", [("size", 1, "int64"), ("name", 2, "string")]),
    ("TensorSliceProto", [("extent", 1, "TensorSliceProto.Extent*")]),
    ("TensorSliceProto.Extent", [("start", 1, "int64"), ("length|has_length", 2, "int64")]),
    # tensor_bundle.proto: the `.index` table's values
    ("BundleHeaderProto", [("num_shards", 1, "int32"),
                           ("endianness", 2, "BundleHeaderProto.Endianness"),
                           ("version", 3, "VersionDef")]),
    ("BundleEntryProto", [("dtype", 1, "DataType"), ("shape", 2, "TensorShapeProto"),
                          ("shard_id", 3, "int32"), ("offset", 4, "int64"), ("size", 5, "int64"),
                          ("crc32c", 6, "fixed32"), ("slices", 7, "TensorSliceProto*")]),
    # saved_tensor_slice.proto: the V1 table's "" entry
    ("SavedTensorSlices", [("meta", 1, "SavedTensorSliceMeta")]),
    ("SavedTensorSliceMeta", [("tensor", 1, "SavedSliceMeta*"), ("versions", 2, "VersionDef")]),
    ("SavedSliceMeta", [("name", 1, "string"), ("shape", 2, "TensorShapeProto"),
                        ("type", 3, "DataType"), ("slice", 4, "TensorSliceProto*")]),
    # trackable_object_graph.proto: `_CHECKPOINTABLE_OBJECT_GRAPH`
    ("TrackableObjectGraph", [("nodes", 1, "TrackableObjectGraph.TrackableObject*")]),
    ("TrackableObjectGraph.TrackableObject", [
        ("children", 1, "TrackableObjectGraph.TrackableObject.ObjectReference*"),
        ("attributes", 2, "TrackableObjectGraph.TrackableObject.SerializedTensor*"),
        ("slot_variables", 3, "TrackableObjectGraph.TrackableObject.SlotVariableReference*"),
        ("registered_saver", 4, "RegisteredSaver"),
        ("has_checkpoint_values", 5, "BoolValue"),
    ]),
    ("TrackableObjectGraph.TrackableObject.ObjectReference", [
        ("node_id", 1, "int32"), ("local_name", 2, "string")]),
    ("TrackableObjectGraph.TrackableObject.SerializedTensor", [
        ("name", 1, "string"), ("full_name", 2, "string"), ("checkpoint_key", 3, "string")]),
    ("TrackableObjectGraph.TrackableObject.SlotVariableReference", [
        ("original_variable_node_id", 1, "int32"), ("slot_name", 2, "string"),
        ("slot_variable_node_id", 3, "int32")]),
    ("RegisteredSaver", [("name", 1, "string"), ("object_name", 2, "string")]),
    ("BoolValue", [("value", 1, "bool")]),  # google/protobuf/wrappers.proto
    # saved_model.proto, meta_graph.proto, graph.proto, node_def.proto, function.proto
    ("SavedModel", [("saved_model_schema_version", 1, "int64"),
                    ("meta_graphs", 2, "MetaGraphDef*")]),
    ("MetaGraphDef", [("meta_info_def", 1, "MetaGraphDef.MetaInfoDef"),
                      ("graph_def", 2, "GraphDef"),
                      ("collection_def", 4, "map<string,CollectionDef>"),
                      ("signature_def", 5, "map<string,SignatureDef>"),
                      ("object_graph_def", 7, "SavedObjectGraph")]),
    ("MetaGraphDef.MetaInfoDef", [("meta_graph_version", 1, "string"), ("tags", 4, "string*"),
                                  ("tensorflow_version", 5, "string"),
                                  ("tensorflow_git_version", 6, "string"),
                                  ("stripped_default_attrs", 7, "bool"),
                                  ("function_aliases", 8, "map<string,string>")]),
    ("GraphDef", [("node", 1, "NodeDef*"), ("library", 2, "FunctionDefLibrary"),
                  ("versions", 4, "VersionDef")]),
    ("NodeDef", [("name", 1, "string"), ("op", 2, "string"), ("input", 3, "string*"),
                 ("device", 4, "string")]),
    ("FunctionDefLibrary", [("function", 1, "FunctionDef*")]),
    ("FunctionDef", [("signature", 1, "OpDef"), ("node_def", 3, "NodeDef*")]),
    ("OpDef", [("name", 1, "string")]),
    ("CollectionDef", [("node_list|kind", 1, "CollectionDef.NodeList"),
                       ("bytes_list|kind", 2, "CollectionDef.BytesList")]),
    ("CollectionDef.NodeList", [("value", 1, "string*")]),
    ("CollectionDef.BytesList", [("value", 1, "bytes*")]),
    ("SignatureDef", [("inputs", 1, "map<string,TensorInfo>"),
                      ("outputs", 2, "map<string,TensorInfo>"), ("method_name", 3, "string")]),
    ("TensorInfo", [("name|encoding", 1, "string"),
                    ("coo_sparse|encoding", 4, "TensorInfo.CooSparse"),
                    ("dtype", 2, "DataType"), ("tensor_shape", 3, "TensorShapeProto")]),
    ("TensorInfo.CooSparse", [("values_tensor_name", 1, "string"),
                              ("indices_tensor_name", 2, "string"),
                              ("dense_shape_tensor_name", 3, "string")]),
    # saved_object_graph.proto: a TF2 SavedModel's object graph
    ("SavedObjectGraph", [("nodes", 1, "SavedObject*")]),
    ("SavedObject", [
        ("children", 1, "TrackableObjectGraph.TrackableObject.ObjectReference*"),
        ("slot_variables", 3, "TrackableObjectGraph.TrackableObject.SlotVariableReference*"),
        ("user_object|kind", 4, "SavedUserObject"), ("asset|kind", 5, "SavedAsset"),
        ("function|kind", 6, "SavedFunction"), ("variable|kind", 7, "SavedVariable"),
        ("bare_concrete_function|kind", 8, "SavedBareConcreteFunction"),
        ("constant|kind", 9, "SavedConstant"), ("resource|kind", 10, "SavedResource"),
        ("captured_tensor|kind", 12, "CapturedTensor"),
        ("registered_name", 13, "string"),
        ("dependencies", 15, "TrackableObjectGraph.TrackableObject.ObjectReference*"),
        ("registered_saver", 16, "string"),
    ]),
    ("SavedUserObject", [("identifier", 1, "string"), ("version", 2, "VersionDef"),
                         ("metadata", 3, "string")]),
    ("SavedAsset", [("asset_file_def_index", 1, "int32")]),
    ("SavedFunction", [("concrete_functions", 1, "string*")]),
    ("SavedVariable", [("dtype", 1, "DataType"), ("shape", 2, "TensorShapeProto"),
                       ("trainable", 3, "bool"), ("name", 6, "string"), ("device", 7, "string")]),
    ("SavedBareConcreteFunction", [("concrete_function_name", 1, "string"),
                                   ("argument_keywords", 2, "string*")]),
    ("SavedConstant", [("operation", 1, "string")]),
    ("SavedResource", [("device", 1, "string")]),
    ("CapturedTensor", [("name", 1, "string"), ("concrete_function", 2, "string")]),
    # Keras 2 (tf.keras) python/keras/protobuf/saved_metadata.proto: `keras_metadata.pb`
    ("SavedMetadata", [("nodes", 1, "SavedMetadata.Node*")]),
    ("SavedMetadata.Node", [("node_id", 2, "int32"), ("node_path", 3, "string"),
                            ("identifier", 4, "string"), ("metadata", 5, "string"),
                            ("version", 6, "VersionDef")]),
]

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "int32": _F.TYPE_INT32, "int64": _F.TYPE_INT64, "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64, "fixed32": _F.TYPE_FIXED32, "bool": _F.TYPE_BOOL,
    "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES, "float": _F.TYPE_FLOAT,
    "double": _F.TYPE_DOUBLE,
}


def dtype_name(number: int) -> str:
    """The `tf.dtypes` name of a DataType number (`float32`); `dtype#N` when unknown."""
    found = DATA_TYPES.get(number)
    return found[1] if found and found[1] else f"dtype#{number}"


def message(name: str) -> Any:
    """The message class for a name of this module (`SavedModel`, `BundleEntryProto`, ...)."""
    return _classes()[name]


def parse(name: str, data: bytes) -> Any:
    """Parse binary protobuf `data` as `name`; raises google.protobuf.message.DecodeError."""
    proto = message(name)()
    proto.ParseFromString(data)
    return proto


def parse_text(name: str, text: str) -> Any:
    """Parse text format; fields this module does not declare are skipped."""
    proto = message(name)()
    text_format.Parse(text, proto, allow_unknown_field=True)
    return proto


@cache
def _classes() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file())
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is None:  # protobuf < 4.22
        factory = message_factory.MessageFactory(pool)
        get_class = factory.GetPrototype
    return {
        name: get_class(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
        for name, _ in _MESSAGES
    }


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="restore_gate/tf_subset.proto", package=PACKAGE, syntax="proto3")
    protos: dict[str, Any] = {}
    for name, fields in _MESSAGES:
        parent, _, short = name.rpartition(".")
        proto = (protos[parent].nested_type if parent else file.message_type).add(name=short)
        protos[name] = proto
        for field, number, kind in fields:
            _add_field(proto, name, field, number, kind)
    for name, values in _ENUMS.items():
        parent, _, short = name.rpartition(".")
        enum = (protos[parent].enum_type if parent else file.enum_type).add(name=short)
        for value_name, number in values:
            enum.value.add(name=value_name, number=number)
    return file


def _add_field(proto: Any, owner: str, field: str, number: int, kind: str) -> None:
    field, _, oneof = field.partition("|")
    if kind.startswith("map<"):
        key, value = kind[4:-1].split(",")
        entry = proto.nested_type.add(name="".join(p.title() for p in field.split("_")) + "Entry")
        entry.options.map_entry = True
        _add_field(entry, owner, "key", 1, key)
        _add_field(entry, owner, "value", 2, value)
        kind = f"{owner}.{entry.name}*"
    repeated = kind.endswith("*")
    kind = kind.rstrip("*")
    added = proto.field.add(
        name=field, number=number, json_name=_json_name(field),
        label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
    if kind in _SCALARS:
        added.type = _SCALARS[kind]
    else:
        added.type = _F.TYPE_ENUM if kind in _ENUMS else _F.TYPE_MESSAGE
        added.type_name = f".{PACKAGE}.{kind}"
    if oneof:
        names = [o.name for o in proto.oneof_decl]
        if oneof not in names:
            proto.oneof_decl.add(name=oneof)
            names.append(oneof)
        added.oneof_index = names.index(oneof)


def _json_name(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(p.title() for p in rest)

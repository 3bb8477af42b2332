"""HDF5 files from a release hold their own bytes, or they are refused.

HDF5 can make a dataset read bytes from another file on the host: external storage
(`create_dataset(..., external=[(path, offset, size)])`), external links
(`h5py.ExternalLink`), virtual datasets (`h5py.VirtualLayout`), and soft links that
resolve to any of those. Keras never writes them, so every HDF5 file the gate reads
(`.weights.h5`, legacy `.h5`, the `model.weights.h5` inside a `.keras`) is walked link by
link before any value is read; the first such object is an error naming it and the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from restore_gate.errors import GateError

if TYPE_CHECKING:
    import h5py

_HINT = ("Keras files hold their weights in the file itself; re-create the release asset "
         "with model.save() / model.save_weights() (no external links, external storage or "
         "virtual datasets)")


def refuse_outside_storage(handle: h5py.File, label: str) -> None:
    """A GateError for the first link or dataset whose bytes may come from outside the file."""
    found: list[tuple[str, str]] = []

    def visit(name: str, link: Any) -> bool | None:
        problem = _problem(handle, name, link)
        if problem is not None:  # an exception must not cross h5py's visit: stop it instead
            found.append((name, problem))
            return True
        return None

    handle.visititems_links(visit)
    if found:
        name, what = found[0]
        raise GateError("inspect", f"HDF5 object /{name} in {label} {what}: refused, none of "
                        "its values were read", _HINT, code="hdf5-external-link")


def _problem(handle: h5py.File, name: str, link: Any) -> str | None:
    import h5py  # lazy: `inspect` of a TF checkpoint loads no h5py

    if isinstance(link, h5py.ExternalLink):
        return "is an external link to another HDF5 file"
    if isinstance(link, h5py.SoftLink):
        return "is a soft link (Keras writes none)"
    if not isinstance(link, h5py.HardLink):
        return f"is a {type(link).__name__} (Keras writes none)"
    target = handle.get(name)
    if isinstance(target, h5py.Dataset):
        if target.is_virtual:
            return "is a virtual dataset (its values live in other files)"
        if target.external:
            return "uses external storage (its bytes live in another file)"
    return None


def dataset_at(group: h5py.Group, key: str, label: str) -> h5py.Dataset:
    """`group[key]`, which Keras writes as a dataset (one variable's values); a GateError
    naming the object, what it is instead and the file when it is a group or a named
    datatype."""
    import h5py  # lazy: `inspect` of a TF checkpoint loads no h5py

    found = group[key]
    if isinstance(found, h5py.Dataset):
        return found
    kind = {h5py.Group: "a group", h5py.Datatype: "a named datatype"}.get(
        type(found), type(found).__name__)
    raise GateError("inspect", f"HDF5 object {found.name} in {label} is {kind}, where Keras "
                    "writes a dataset holding one variable's values",
                    "the file was edited or is not a Keras weights file: re-create the release "
                    "asset with model.save() / model.save_weights()")

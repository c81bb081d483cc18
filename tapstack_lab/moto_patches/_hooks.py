"""How a patch changes moto: it replaces one function or classmethod, once.

moto 5.2.5 offers no public extension point for its CloudFormation engine: resource models
(``CloudFormationModel`` subclasses) are looked up by type and called directly, and template
functions are evaluated by ``moto.cloudformation.parsing.clean_json``. So each patch wraps a
named, non-underscore function of moto (a model's ``create_from_cloudformation_json``,
``get_cfn_attribute``/``has_cfn_attr``, a backend method, a function of
``moto.cloudformation.parsing``). None of these is a documented API; the pin on moto
(``tapstack_lab.moto_patches.TESTED_MOTO``) and the tests under ``tests/lab/moto_patches``
are what keep them honest.

Every wrapper records the name of the patch that installed it, so applying a patch twice
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_MARK = "__tapstack_patches__"

Wrapper = Callable[..., Any]


def _installed(function: Any) -> frozenset[str]:
    return frozenset(getattr(function, _MARK, ()))


def replace_function(owner: Any, name: str, patch: str, wrap: Callable[[Wrapper], Wrapper]) -> None:
    """``owner.name = wrap(owner.name)`` for a module function or an instance method, unless
    ``patch`` already did it."""
    original = getattr(owner, name)
    if patch in _installed(original):
        return
    wrapper = wrap(original)
    setattr(wrapper, _MARK, _installed(original) | {patch})
    setattr(owner, name, wrapper)


def replace_classmethod(
    model: type, name: str, patch: str, wrap: Callable[[Wrapper], Wrapper]
) -> None:
    """Replace the classmethod ``model.name`` by ``wrap(original function)`` (both take the
    class first), unless ``patch`` already did it."""
    original = getattr(model, name).__func__
    if patch in _installed(original):
        return
    wrapper = wrap(original)
    setattr(wrapper, _MARK, _installed(original) | {patch})
    setattr(model, name, classmethod(wrapper))


def transform_cfn_properties(
    model: type, patch: str, transform: Callable[[dict[str, Any]], None]
) -> None:
    """Let ``transform`` rewrite (a copy of) a resource's ``Properties`` before ``model``'s
    ``create_from_cloudformation_json`` reads them."""

    def wrap(original: Wrapper) -> Wrapper:
        def create_from_cloudformation_json(
            cls: Any,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            properties = dict(cloudformation_json.get("Properties") or {})
            transform(properties)
            patched = {**cloudformation_json, "Properties": properties}
            return original(cls, resource_name, patched, account_id, region_name, **kwargs)

        return create_from_cloudformation_json

    replace_classmethod(model, "create_from_cloudformation_json", patch, wrap)


Finish = Callable[[Any, Mapping[str, Any], str, str], None]


def after_cfn_create(model: type, patch: str, finish: Finish) -> None:
    """Call ``finish(resource, properties, account_id, region_name)`` on every resource that
    ``model``'s ``create_from_cloudformation_json`` created (``properties`` as resolved from
    the template), to complete what the model leaves out."""

    def wrap(original: Wrapper) -> Wrapper:
        def create_from_cloudformation_json(
            cls: Any,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            resource = original(
                cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
            properties = cloudformation_json.get("Properties") or {}
            finish(resource, properties, account_id, region_name)
            return resource

        return create_from_cloudformation_json

    replace_classmethod(model, "create_from_cloudformation_json", patch, wrap)


def add_cfn_attributes(
    model: type, patch: str, attributes: Mapping[str, Callable[[Any], Any]]
) -> None:
    """Answer ``Fn::GetAtt`` for ``attributes`` (name -> function of the resource) on
    ``model``; every other attribute is still moto's to answer."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    def wrap_get(original: Wrapper) -> Wrapper:
        def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
            if attribute_name in attributes:
                return attributes[attribute_name](self)
            return original(self, attribute_name)

        return get_cfn_attribute

    def wrap_has(original: Wrapper) -> Wrapper:
        def has_cfn_attr(cls: Any, attr: str) -> bool:
            return attr in attributes or bool(original(cls, attr))

        return has_cfn_attr

    if not hasattr(model, "get_cfn_attribute"):  # moto's base model answers nothing

        def unanswered(self: Any, attribute_name: str) -> Any:
            raise UnformattedGetAttTemplateException()

        model.get_cfn_attribute = unanswered  # type: ignore[attr-defined]
    replace_function(model, "get_cfn_attribute", patch, wrap_get)
    replace_classmethod(model, "has_cfn_attr", patch, wrap_has)

"""Resolves the intrinsic functions of template.yaml (as cfn-lint's decoder
reads it: `{"Ref": ...}`, `{"Fn::GetAtt": [...]}`, ...) to the values
CloudFormation would give them, from parameters and from what was created.
Used by scripts/provision-aws, which creates the stateful resources itself,
and by the deploy smoke test, which compares a deployed stack with the
template. Only the functions template.yaml uses are known; any other stops
with an error that names it rather than guessing.
"""
import re

# Returned for `!Ref AWS::NoValue`: the property is dropped, as in CloudFormation.
NO_VALUE = object()


class UnsupportedIntrinsic(Exception):
    pass


class Resolver:
    def __init__(self, template, parameters, refs=None, attributes=None):
        """`parameters`: parameter and pseudo-parameter values (defaults
        from the template fill the rest); `refs`: logical id -> what `!Ref`
        gives; `attributes`: (logical id, attribute) -> what `!GetAtt` gives."""
        self.template = template
        self.parameters = {
            name: str(spec["Default"])
            for name, spec in template.get("Parameters", {}).items()
            if "Default" in spec
        }
        self.parameters.update(parameters)
        self.refs = refs if refs is not None else {}
        self.attributes = attributes if attributes is not None else {}

    def condition(self, name):
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value):
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                return self._ref(arg)
            if fn == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._attribute(logical, attribute)
            if fn == "Fn::Sub":
                if not isinstance(arg, str):
                    raise UnsupportedIntrinsic("Fn::Sub with a variable map")
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub(m.group(1))), arg)
            if fn == "Fn::Join":
                separator, parts = arg
                return separator.join(str(p) for p in self.resolve(parts))
            if fn == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if fn == "Fn::Equals":
                left, right = self.resolve(arg)
                return left == right
            if fn == "Fn::Not":
                return not self.resolve(arg[0])
            if fn == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if fn.startswith("Fn::"):
                raise UnsupportedIntrinsic(fn)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            value = self.parameters[name]
            spec = self.template.get("Parameters", {}).get(name, {})
            if spec.get("Type") == "CommaDelimitedList":
                return [part.strip() for part in value.split(",")]
            return value
        return self.refs[name]

    def _attribute(self, logical, attribute):
        try:
            return self.attributes[(logical, attribute)]
        except KeyError:
            raise UnsupportedIntrinsic(f"Fn::GetAtt {logical}.{attribute} (not known here)") from None

    def _sub(self, name):
        if "." in name:
            return self._attribute(*name.split(".", 1))
        return self._ref(name)

from ..frameworks import Case

CASES: list[Case] = []

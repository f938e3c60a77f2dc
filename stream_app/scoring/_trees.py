"""CatBoost oblivious trees as arrays, and exact per-leaf SHAP tables.

A CatBoost model is a sum of *oblivious* trees: every level of a tree tests one split, so the
leaf a row reaches is the bit pattern of its split outcomes. Two consequences used here:

* evaluating the model is a handful of vectorised comparisons (features as float32, exactly as
  CatBoost compares them), giving each row's leaf index per tree;
* the path-dependent TreeSHAP values of one tree depend only on the leaf reached. So CatBoost's
  own ``ShapValues`` on a one-tree copy of the model, for one synthetic row per reachable leaf,
  gives that tree's contribution vector for every leaf; a row's SHAP values are then the sum of
  its reached leaves' vectors (SHAP is additive over trees). The table is built once per model
  (seconds) and scoring costs microseconds per row instead of milliseconds.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ObliviousForest", "build_leaf_shap_table", "forest_from_catboost"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ObliviousForest:
    """Split features/borders and leaf values of every tree, padded to the deepest tree."""

    n_features: int
    depths: IntArray  # (T,)
    split_features: IntArray  # (T, D); padding splits test feature 0 against +inf (never true)
    split_borders: npt.NDArray[np.float32]  # (T, D)
    leaf_values: FloatArray  # (T, 2**D); padding leaves are 0
    scale: float
    bias: float

    @property
    def n_trees(self) -> int:
        return int(self.depths.shape[0])

    @property
    def max_depth(self) -> int:
        return int(self.split_features.shape[1])

    def leaf_indexes(self, x: npt.NDArray[np.floating[Any]]) -> IntArray:
        """(n, T) leaf index of each row in each tree."""
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        bits = x32[:, self.split_features.reshape(-1)] > self.split_borders.reshape(-1)
        bits = bits.reshape(x32.shape[0], self.n_trees, self.max_depth)
        weights = (1 << np.arange(self.max_depth, dtype=np.int64))
        return bits.astype(np.int64) @ weights

    def raw_scores(self, leaves: IntArray) -> FloatArray:
        """Raw formula value (log-odds for Logloss) from leaf indexes."""
        values = np.take_along_axis(self.leaf_values[None, :, :], leaves[:, :, None], axis=2)
        raw: FloatArray = values[:, :, 0].sum(axis=1) * self.scale + self.bias
        return raw


def _model_json(model: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.json"
        model.save_model(str(path), format="json")
        data: dict[str, Any] = json.loads(path.read_text())
        return data


def forest_from_catboost(model: Any) -> ObliviousForest:
    """Read the trees of a trained CatBoost model (numeric features only)."""
    data = _model_json(model)
    trees = data["oblivious_trees"]
    n_features = len(data["features_info"]["float_features"])
    depth = max(len(t["splits"]) for t in trees)
    count = len(trees)
    split_features = np.zeros((count, depth), dtype=np.int64)
    split_borders = np.full((count, depth), np.inf, dtype=np.float32)
    leaf_values = np.zeros((count, 1 << depth), dtype=np.float64)
    depths = np.zeros(count, dtype=np.int64)
    for t, tree in enumerate(trees):
        depths[t] = len(tree["splits"])
        for j, split in enumerate(tree["splits"]):
            if split["split_type"] != "FloatFeature":
                raise ValueError(f"unsupported split type {split['split_type']}")
            split_features[t, j] = split["float_feature_index"]
            split_borders[t, j] = np.float32(split["border"])
        values = tree["leaf_values"]
        leaf_values[t, : len(values)] = values
    scale, bias = data.get("scale_and_bias", [1.0, [0.0]])
    bias_value = float(bias[0]) if isinstance(bias, list) and bias else float(bias or 0.0)
    return ObliviousForest(
        n_features=n_features,
        depths=depths,
        split_features=split_features,
        split_borders=split_borders,
        leaf_values=leaf_values,
        scale=float(scale),
        bias=bias_value,
    )


def _leaf_rows(forest: ObliviousForest, t: int) -> tuple[npt.NDArray[np.float32], list[int]]:
    """One float32 row per reachable leaf of tree ``t`` (and the leaf indexes they target)."""
    depth = int(forest.depths[t])
    rows: list[npt.NDArray[np.float32]] = []
    targets: list[int] = []
    for leaf in range(1 << depth):
        low = np.full(forest.n_features, -np.inf, dtype=np.float32)  # x > low
        high = np.full(forest.n_features, np.inf, dtype=np.float32)  # x <= high
        for j in range(depth):
            feature = int(forest.split_features[t, j])
            border = forest.split_borders[t, j]
            if leaf >> j & 1:
                low[feature] = max(low[feature], border)
            else:
                high[feature] = min(high[feature], border)
        if np.any(low >= high):
            continue  # contradictory splits on one feature: no row can reach this leaf
        row = np.where(np.isfinite(high), high, np.nextafter(low, np.float32(np.inf)))
        row = np.where(np.isfinite(row), row, np.float32(0.0)).astype(np.float32)
        rows.append(row)
        targets.append(leaf)
    return np.stack(rows), targets


def build_leaf_shap_table(model: Any, forest: ObliviousForest) -> tuple[FloatArray, float]:
    """Per-tree, per-leaf SHAP vectors ``(T, 2**D, F)`` and the model's expected value."""
    from catboost import Pool

    table = np.zeros((forest.n_trees, 1 << forest.max_depth, forest.n_features))
    for t in range(forest.n_trees):
        single = model.copy()
        single.shrink(ntree_end=t + 1, ntree_start=t)
        rows, targets = _leaf_rows(forest, t)
        reached = single.calc_leaf_indexes(Pool(rows))[:, 0]
        if list(reached) != targets:
            raise AssertionError(f"tree {t}: synthetic rows did not reach their target leaves")
        shap_values = single.get_feature_importance(Pool(rows), type="ShapValues")
        table[t, targets, :] = shap_values[:, : forest.n_features]
    probe = np.zeros((1, forest.n_features), dtype=np.float32)
    expected = float(model.get_feature_importance(Pool(probe), type="ShapValues")[0, -1])
    return table, expected

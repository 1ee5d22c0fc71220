"""Representational similarity measures the field expects, each with its null.

Every measure takes two representations of the *same* rows (row ``i`` of
``x`` and of ``y`` is one sample; match spaces by id first) of any two widths
and returns one number. :func:`similarity` adds a permutation null (the rows
of ``y`` shuffled, which breaks the pairing and nothing else) and a bootstrap
interval, in the vocabulary of :mod:`workbench.geometry.uncertainty`.

========================  =========================================  =============
name                      what it is                                 higher means
========================  =========================================  =============
``"mutual_knn"``          mean fraction of each row's k neighbours   more alike
                          shared by both spaces (Huh et al. 2024)
``"cka"``                 linear CKA (Kornblith et al. 2019)         more alike
``"cka_debiased"``        linear CKA from the unbiased HSIC          more alike
                          estimator (Song et al. 2012; Kornblith
                          et al. 2019), unbiased at small N / high D
``"svcca"``               mean canonical correlation after keeping   more alike
                          99 % of each space's variance (Raghu et
                          al. 2017)
``"pwcca"``               canonical correlations weighted by how     more alike
                          much of ``x`` they explain (Morcos et al.
                          2018)
``"rsa"``                 Spearman correlation of the two distance   more alike
                          matrices' upper triangles (Kriegeskorte
                          et al. 2008)
``"procrustes"``          orthogonal Procrustes distance of the      *less* alike
                          centred, unit-norm spaces, in [0, 2]
                          (Ding et al. 2021)
========================  =========================================  =============

Why nulls matter: Gröger et al. (2026) show that global spectral measures
(CKA and relatives) of two unrelated models sit far above zero at realistic
N and D, and that most apparent "convergence" vanishes against a permutation
null, while mutual-kNN agreement survives. Read a measure next to its
``null_q95`` and ``p_value``.

Permutation nulls are vectorised for the two measures one runs most:
``mutual_knn`` keeps both kNN graphs and only relabels one (``O(P n k log
k)``), and ``cka_debiased`` keeps every permutation-invariant term and
recomputes only ``|X^T Y_p|_F^2`` as batched float32 products (float64 for
the observed value), on the GPU when there is one. The others recompute the
measure per permutation.
"""

from __future__ import annotations

from workbench.geometry.similarity.cca import pwcca, svcca
from workbench.geometry.similarity.geometry_of_distances import procrustes_distance, rsa
from workbench.geometry.similarity.kernel import cka_debiased, linear_cka
from workbench.geometry.similarity.matched import centred
from workbench.geometry.similarity.mutual_knn import mutual_knn
from workbench.geometry.similarity.registry import MEASURES, Measure, similarity

__all__ = [
    "MEASURES",
    "Measure",
    "centred",
    "cka_debiased",
    "linear_cka",
    "mutual_knn",
    "procrustes_distance",
    "pwcca",
    "rsa",
    "similarity",
    "svcca",
]

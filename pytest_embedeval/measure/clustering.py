"""Clustering scored as MTEB scores it (the fast clustering task of mteb 1.12.75).

``random.Random(42)`` first shuffles the documents (a sample of all of them,
at most ``max_documents_to_embed``), which are embedded once; then
``n_draws`` (10) times it draws ``max_documents_per_cluster`` documents *with
replacement*, ``MiniBatchKMeans(n_clusters=<number of labels>, batch_size=512,
n_init="auto")`` clusters their embeddings and the V-measure scores the
clusters against the gold labels.  Main score: the mean V-measure.

MTEB's k-means draws from numpy's global generator, which earlier tasks had
already used, so its rounds cannot be repeated exactly; ours draws from one
``RandomState(42)`` per task, so every run repeats (an unchanged model changes
by exactly zero).  The gate resamples the V-measures of the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure.accuracy import (Column, Encoder, Kind, TaskInfo, TaskResult, TaskSpec, embed_unique,
                                               task_folder)
from pytest_embedeval.measure.labelled import Labelled, fingerprint, read_hub, read_labelled, split_file

SEED = 42
DEFAULTS = {"n_draws": 10, "max_documents_to_embed": 16_384, "max_documents_per_cluster": 16_384,
            "kmeans_batch_size": 512}


@dataclass(frozen=True)
class ClusteringSet:
    """One task's documents with their gold topics, and how MTEB draws from them (``DEFAULTS``' keys)."""

    documents: Labelled = field(repr=False)
    params: dict[str, int] = field(compare=False)
    name: str = ""
    split: str = "test"
    source: str = ""

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.documents) + "-" + "-".join(str(self.params[k]) for k in sorted(self.params))


@dataclass(frozen=True)
class ClusteringResult(TaskResult):
    """One clustering task scored for one model on one device."""

    KIND: ClassVar[str] = "clustering"
    JUNIT: ClassVar[tuple[str, ...]] = ("v_measure",)

    n_documents: int
    n_labels: int
    n_draws: int
    draw_size: int
    v_measure: float  # MTEB's main score: the mean over draws, 0-1
    v_measures: tuple[float, ...]  # each draw's, for the gate

    def assert_v_measure(self, min: float) -> ClusteringResult:  # noqa: A002 - reads as the user writes it
        __tracebackhide__ = True
        return self.at_least("V-measure", self.v_measure * 100, min)


def evaluate_clustering(encode: Encoder, data: ClusteringSet, *, model: str, device: str,
                        batch_size: int) -> ClusteringResult:
    import random

    import numpy as np
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics.cluster import v_measure_score

    params, docs = data.params, data.documents
    rng = random.Random(SEED)
    order = rng.sample(range(len(docs)), k=min(len(docs), params["max_documents_to_embed"]))
    texts = [docs.texts[i] for i in order]
    labels = np.asarray([docs.labels[i] for i in order], dtype=object)
    embedded = embed_unique(encode, texts, f"model {model} on {device}, {data.name}")
    embeddings = embedded.of(texts)
    n_labels = len(set(labels.tolist()))
    kmeans_rng = np.random.RandomState(SEED)
    scores = []
    for _ in range(params["n_draws"]):
        drawn = rng.choices(range(len(texts)), k=params["max_documents_per_cluster"])
        clusters = MiniBatchKMeans(n_clusters=n_labels, batch_size=params["kmeans_batch_size"], n_init="auto",
                                   random_state=kmeans_rng).fit_predict(embeddings[drawn])
        scores.append(float(v_measure_score(labels[drawn], clusters)))
    return ClusteringResult(
        model=model, device=device, dataset=data.name, split=data.split, source=data.source,
        fingerprint=data.fingerprint, n_documents=len(texts), n_labels=n_labels, n_draws=len(scores),
        draw_size=params["max_documents_per_cluster"], batch_size=batch_size, v_measure=float(np.mean(scores)),
        v_measures=tuple(scores), encode_seconds=embedded.seconds)


class ClusteringKind(Kind):
    """Clustering: the V-measures of the same seeded draws, resampled over draws."""

    def load(self, spec: TaskSpec, folder: Path | None) -> ClusteringSet:
        info, params = spec.info, {**DEFAULTS, **spec.info.params}
        if folder is None:
            documents = read_hub(info.hub_id, info.revision, spec.subset, *params.get("hub_splits", (info.split,)),
                                 label=params.get("label_column") or "label")
            source = f"hub:{info.hub_id}"
        else:
            here = task_folder(folder, spec)
            documents = read_labelled(split_file(here, info.split), params.get("text_column"),
                                      params.get("label_column"))
            source = str(here)
        if len(set(documents.labels)) < 2:
            raise DataError(f"{documents.path}: every document has the label {documents.labels[0]!r}; clustering "
                            "needs at least two")
        numbers = {key: int(params[key]) for key in DEFAULTS}
        return ClusteringSet(documents, numbers, spec.label, info.split, source)

    def evaluate(self, encode: Encoder, data: Any, *, model: str, device: str, batch_size: int) -> ClusteringResult:
        return evaluate_clustering(encode, data, model=model, device=device, batch_size=batch_size)


# SIB-200's languages, as MTEB lists them (mteb/tasks/Clustering/multilingual/SIB200ClusteringS2S.py)
SIB200_SUBSETS = tuple("""
    ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn als_Latn amh_Ethi apc_Arab arb_Latn ars_Arab
    ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn azb_Arab azj_Latn bak_Cyrl bam_Latn ban_Latn bel_Cyrl
    bem_Latn ben_Beng bho_Deva bjn_Latn bod_Tibt bos_Latn bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn cjk_Latn
    ckb_Arab crh_Latn cym_Latn dan_Latn deu_Latn dik_Latn dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn est_Latn
    eus_Latn ewe_Latn fao_Latn fij_Latn fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn gaz_Latn gla_Latn gle_Latn
    glg_Latn grn_Latn guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva hne_Deva hrv_Latn hun_Latn hye_Armn ibo_Latn
    ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn jpn_Jpan kab_Latn kac_Latn kam_Latn kan_Knda kas_Deva kat_Geor
    kaz_Cyrl kbp_Latn kea_Latn khk_Cyrl khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kmr_Latn knc_Latn kon_Latn
    kor_Hang lao_Laoo lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn lua_Latn lug_Latn luo_Latn
    lus_Latn lvs_Latn mag_Deva mai_Deva mal_Mlym mar_Deva min_Latn mkd_Cyrl mlt_Latn mni_Beng mos_Latn mri_Latn
    mya_Mymr nld_Latn nno_Latn nob_Latn npi_Deva nqo_Nkoo nso_Latn nus_Latn nya_Latn oci_Latn ory_Orya pag_Latn
    pan_Guru pap_Latn pbt_Arab pes_Arab plt_Latn pol_Latn por_Latn prs_Arab quy_Latn ron_Latn run_Latn rus_Cyrl
    sag_Latn san_Deva sat_Olck scn_Latn shn_Mymr sin_Sinh slk_Latn slv_Latn smo_Latn sna_Latn snd_Arab som_Latn
    sot_Latn spa_Latn srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn szl_Latn tam_Taml taq_Tfng tat_Cyrl
    tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi tpi_Latn tsn_Latn tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn
    tzm_Tfng uig_Arab ukr_Cyrl umb_Latn urd_Arab uzn_Latn vec_Latn vie_Latn war_Latn wol_Latn xho_Latn ydd_Hebr
    yor_Latn yue_Hant zho_Hant zsm_Latn zul_Latn
""".split())

# MTEB's metadata: data set, pinned revision, the evaluated split.  SIB200ClusteringS2S's test split is the
# subset's train, validation and test rows together (category, text); TwentyNewsgroupsClustering.v2's hub rows
# hold lists of sentences and labels, flattened without repeats as MTEB's convert_to_fast does.
TASKS = (
    TaskInfo("SIB200ClusteringS2S", "mteb/sib200", "a74d7350ea12af010cfb1c21e34f1f81fd2e615b", "test",
             SIB200_SUBSETS, "eng_Latn", {"hub_splits": ("train", "validation", "test"), "label_column": "category"}),
    TaskInfo("TwentyNewsgroupsClustering.v2", "mteb/twentynewsgroups-clustering",
             "6125ec4e24fa026cec8a478383ee943acfbd5449"),
)

KIND = ClusteringKind(
    name="clustering", result_type=ClusteringResult, title="Clustering", task_type="Clustering",
    metric="V-measure x100", main_score="v_measure", points=100.0, per_item="v_measures", count="n_draws",
    unit="draws", entry_fields=("dataset", "split", "fingerprint", "n_documents", "n_draws", "batch_size"),
    rounded=("v_measure",),
    columns=(Column("documents", "n_documents", None), Column("labels", "n_labels", None),
             Column("draws", "n_draws", None), Column("V-measure", "v_measure", 2, 100.0)),
    tasks=TASKS)

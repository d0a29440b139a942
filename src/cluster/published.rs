//! The study's published allocation figures: the artifact results of
//! "Beware of Fragmentation" (USENIX ATC'23) in its public repository,
//! `experiments/analysis/expected_results/analysis_allo_discrete.csv`
//! (github.com/hkust-adsl/kubernetes-scheduler-simulator, commit 8f3d641),
//! 17 pod lists x 6 policies x 10 seeds (42 to 51), arrivals tuned to 1.3x
//! the cluster's 6,212 GPUs. Transcribed here (means and sample standard
//! deviations over the 10 seeds, computed from that file) so that reports
//! can set aimsim's figures beside them without the file.

// A standard deviation of 0.318 is data, not an approximation of 1/pi.
#![allow(clippy::approx_constant)]

use super::policy::StudyPolicy;

/// The study's figures for one pod list and policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedPoint {
    /// Pod list (`default`, `cpu050`, ...: the file name without
    /// `openb_pod_list_`).
    pub variant: &'static str,
    /// The policy.
    pub policy: StudyPolicy,
    /// Mean GPU allocation (% of the cluster's GPUs) when the GPUs asked
    /// for reach 100% of the cluster's.
    pub at_100: f64,
    /// Sample standard deviation of `at_100` over the seeds.
    pub sd_100: f64,
    /// Mean allocation at 130% asked for (the end of each run).
    pub at_130: f64,
}

/// Seeds behind each published figure.
pub const PUBLISHED_SEEDS: usize = 10;

/// Every published point, pod list by pod list, policies in the study's order.
pub const PUBLISHED: [PublishedPoint; 102] = [
    PublishedPoint {
        variant: "default",
        policy: StudyPolicy::Random,
        at_100: 86.303,
        sd_100: 0.332,
        at_130: 87.470,
    },
    PublishedPoint {
        variant: "default",
        policy: StudyPolicy::DotProduct,
        at_100: 90.622,
        sd_100: 0.186,
        at_130: 90.849,
    },
    PublishedPoint {
        variant: "default",
        policy: StudyPolicy::GpuClustering,
        at_100: 91.650,
        sd_100: 0.610,
        at_130: 91.878,
    },
    PublishedPoint {
        variant: "default",
        policy: StudyPolicy::GpuPacking,
        at_100: 91.779,
        sd_100: 0.532,
        at_130: 92.002,
    },
    PublishedPoint {
        variant: "default",
        policy: StudyPolicy::BestFit,
        at_100: 92.862,
        sd_100: 0.144,
        at_130: 93.076,
    },
    PublishedPoint {
        variant: "default",
        policy: StudyPolicy::Fgd,
        at_100: 95.227,
        sd_100: 0.106,
        at_130: 95.391,
    },
    PublishedPoint {
        variant: "cpu050",
        policy: StudyPolicy::Random,
        at_100: 89.022,
        sd_100: 0.261,
        at_130: 91.243,
    },
    PublishedPoint {
        variant: "cpu050",
        policy: StudyPolicy::DotProduct,
        at_100: 93.034,
        sd_100: 0.186,
        at_130: 93.267,
    },
    PublishedPoint {
        variant: "cpu050",
        policy: StudyPolicy::GpuClustering,
        at_100: 93.521,
        sd_100: 0.344,
        at_130: 93.787,
    },
    PublishedPoint {
        variant: "cpu050",
        policy: StudyPolicy::GpuPacking,
        at_100: 93.462,
        sd_100: 0.318,
        at_130: 93.717,
    },
    PublishedPoint {
        variant: "cpu050",
        policy: StudyPolicy::BestFit,
        at_100: 93.560,
        sd_100: 0.127,
        at_130: 93.794,
    },
    PublishedPoint {
        variant: "cpu050",
        policy: StudyPolicy::Fgd,
        at_100: 94.996,
        sd_100: 0.112,
        at_130: 95.206,
    },
    PublishedPoint {
        variant: "cpu100",
        policy: StudyPolicy::Random,
        at_100: 87.435,
        sd_100: 0.280,
        at_130: 89.113,
    },
    PublishedPoint {
        variant: "cpu100",
        policy: StudyPolicy::DotProduct,
        at_100: 91.731,
        sd_100: 0.270,
        at_130: 91.955,
    },
    PublishedPoint {
        variant: "cpu100",
        policy: StudyPolicy::GpuClustering,
        at_100: 92.415,
        sd_100: 0.402,
        at_130: 92.643,
    },
    PublishedPoint {
        variant: "cpu100",
        policy: StudyPolicy::GpuPacking,
        at_100: 92.495,
        sd_100: 0.415,
        at_130: 92.715,
    },
    PublishedPoint {
        variant: "cpu100",
        policy: StudyPolicy::BestFit,
        at_100: 93.263,
        sd_100: 0.131,
        at_130: 93.443,
    },
    PublishedPoint {
        variant: "cpu100",
        policy: StudyPolicy::Fgd,
        at_100: 95.208,
        sd_100: 0.136,
        at_130: 95.354,
    },
    PublishedPoint {
        variant: "cpu200",
        policy: StudyPolicy::Random,
        at_100: 83.026,
        sd_100: 0.273,
        at_130: 83.770,
    },
    PublishedPoint {
        variant: "cpu200",
        policy: StudyPolicy::DotProduct,
        at_100: 87.455,
        sd_100: 0.613,
        at_130: 87.704,
    },
    PublishedPoint {
        variant: "cpu200",
        policy: StudyPolicy::GpuClustering,
        at_100: 89.667,
        sd_100: 0.378,
        at_130: 89.921,
    },
    PublishedPoint {
        variant: "cpu200",
        policy: StudyPolicy::GpuPacking,
        at_100: 89.979,
        sd_100: 0.483,
        at_130: 90.225,
    },
    PublishedPoint {
        variant: "cpu200",
        policy: StudyPolicy::BestFit,
        at_100: 92.152,
        sd_100: 0.214,
        at_130: 92.400,
    },
    PublishedPoint {
        variant: "cpu200",
        policy: StudyPolicy::Fgd,
        at_100: 94.824,
        sd_100: 0.159,
        at_130: 95.045,
    },
    PublishedPoint {
        variant: "cpu250",
        policy: StudyPolicy::Random,
        at_100: 79.998,
        sd_100: 0.332,
        at_130: 80.415,
    },
    PublishedPoint {
        variant: "cpu250",
        policy: StudyPolicy::DotProduct,
        at_100: 83.570,
        sd_100: 0.454,
        at_130: 83.805,
    },
    PublishedPoint {
        variant: "cpu250",
        policy: StudyPolicy::GpuClustering,
        at_100: 87.751,
        sd_100: 0.612,
        at_130: 87.990,
    },
    PublishedPoint {
        variant: "cpu250",
        policy: StudyPolicy::GpuPacking,
        at_100: 88.049,
        sd_100: 0.679,
        at_130: 88.280,
    },
    PublishedPoint {
        variant: "cpu250",
        policy: StudyPolicy::BestFit,
        at_100: 91.211,
        sd_100: 0.250,
        at_130: 91.446,
    },
    PublishedPoint {
        variant: "cpu250",
        policy: StudyPolicy::Fgd,
        at_100: 93.196,
        sd_100: 0.286,
        at_130: 93.411,
    },
    PublishedPoint {
        variant: "gpushare40",
        policy: StudyPolicy::Random,
        at_100: 84.864,
        sd_100: 0.337,
        at_130: 86.002,
    },
    PublishedPoint {
        variant: "gpushare40",
        policy: StudyPolicy::DotProduct,
        at_100: 89.304,
        sd_100: 0.135,
        at_130: 89.559,
    },
    PublishedPoint {
        variant: "gpushare40",
        policy: StudyPolicy::GpuClustering,
        at_100: 89.757,
        sd_100: 0.616,
        at_130: 90.015,
    },
    PublishedPoint {
        variant: "gpushare40",
        policy: StudyPolicy::GpuPacking,
        at_100: 89.774,
        sd_100: 0.530,
        at_130: 90.030,
    },
    PublishedPoint {
        variant: "gpushare40",
        policy: StudyPolicy::BestFit,
        at_100: 91.443,
        sd_100: 0.198,
        at_130: 91.689,
    },
    PublishedPoint {
        variant: "gpushare40",
        policy: StudyPolicy::Fgd,
        at_100: 93.961,
        sd_100: 0.074,
        at_130: 94.148,
    },
    PublishedPoint {
        variant: "gpushare60",
        policy: StudyPolicy::Random,
        at_100: 82.808,
        sd_100: 0.350,
        at_130: 83.653,
    },
    PublishedPoint {
        variant: "gpushare60",
        policy: StudyPolicy::DotProduct,
        at_100: 86.816,
        sd_100: 0.281,
        at_130: 87.115,
    },
    PublishedPoint {
        variant: "gpushare60",
        policy: StudyPolicy::GpuClustering,
        at_100: 86.901,
        sd_100: 0.410,
        at_130: 87.203,
    },
    PublishedPoint {
        variant: "gpushare60",
        policy: StudyPolicy::GpuPacking,
        at_100: 87.147,
        sd_100: 0.373,
        at_130: 87.447,
    },
    PublishedPoint {
        variant: "gpushare60",
        policy: StudyPolicy::BestFit,
        at_100: 89.060,
        sd_100: 0.184,
        at_130: 89.359,
    },
    PublishedPoint {
        variant: "gpushare60",
        policy: StudyPolicy::Fgd,
        at_100: 91.255,
        sd_100: 0.127,
        at_130: 91.401,
    },
    PublishedPoint {
        variant: "gpushare80",
        policy: StudyPolicy::Random,
        at_100: 80.622,
        sd_100: 0.283,
        at_130: 81.223,
    },
    PublishedPoint {
        variant: "gpushare80",
        policy: StudyPolicy::DotProduct,
        at_100: 84.136,
        sd_100: 0.195,
        at_130: 84.486,
    },
    PublishedPoint {
        variant: "gpushare80",
        policy: StudyPolicy::GpuClustering,
        at_100: 84.498,
        sd_100: 0.543,
        at_130: 84.848,
    },
    PublishedPoint {
        variant: "gpushare80",
        policy: StudyPolicy::GpuPacking,
        at_100: 84.647,
        sd_100: 0.497,
        at_130: 84.998,
    },
    PublishedPoint {
        variant: "gpushare80",
        policy: StudyPolicy::BestFit,
        at_100: 86.657,
        sd_100: 0.240,
        at_130: 87.007,
    },
    PublishedPoint {
        variant: "gpushare80",
        policy: StudyPolicy::Fgd,
        at_100: 89.083,
        sd_100: 0.106,
        at_130: 89.305,
    },
    PublishedPoint {
        variant: "gpushare100",
        policy: StudyPolicy::Random,
        at_100: 78.900,
        sd_100: 0.153,
        at_130: 79.443,
    },
    PublishedPoint {
        variant: "gpushare100",
        policy: StudyPolicy::DotProduct,
        at_100: 81.979,
        sd_100: 0.300,
        at_130: 82.417,
    },
    PublishedPoint {
        variant: "gpushare100",
        policy: StudyPolicy::GpuClustering,
        at_100: 82.225,
        sd_100: 0.506,
        at_130: 82.647,
    },
    PublishedPoint {
        variant: "gpushare100",
        policy: StudyPolicy::GpuPacking,
        at_100: 82.134,
        sd_100: 0.503,
        at_130: 82.568,
    },
    PublishedPoint {
        variant: "gpushare100",
        policy: StudyPolicy::BestFit,
        at_100: 84.616,
        sd_100: 0.222,
        at_130: 85.006,
    },
    PublishedPoint {
        variant: "gpushare100",
        policy: StudyPolicy::Fgd,
        at_100: 86.640,
        sd_100: 0.157,
        at_130: 86.901,
    },
    PublishedPoint {
        variant: "gpuspec10",
        policy: StudyPolicy::Random,
        at_100: 86.257,
        sd_100: 0.254,
        at_130: 87.428,
    },
    PublishedPoint {
        variant: "gpuspec10",
        policy: StudyPolicy::DotProduct,
        at_100: 90.174,
        sd_100: 0.385,
        at_130: 90.390,
    },
    PublishedPoint {
        variant: "gpuspec10",
        policy: StudyPolicy::GpuClustering,
        at_100: 91.956,
        sd_100: 0.706,
        at_130: 92.177,
    },
    PublishedPoint {
        variant: "gpuspec10",
        policy: StudyPolicy::GpuPacking,
        at_100: 92.237,
        sd_100: 0.651,
        at_130: 92.459,
    },
    PublishedPoint {
        variant: "gpuspec10",
        policy: StudyPolicy::BestFit,
        at_100: 93.099,
        sd_100: 0.214,
        at_130: 93.305,
    },
    PublishedPoint {
        variant: "gpuspec10",
        policy: StudyPolicy::Fgd,
        at_100: 94.663,
        sd_100: 0.190,
        at_130: 94.949,
    },
    PublishedPoint {
        variant: "gpuspec20",
        policy: StudyPolicy::Random,
        at_100: 85.902,
        sd_100: 0.350,
        at_130: 87.240,
    },
    PublishedPoint {
        variant: "gpuspec20",
        policy: StudyPolicy::DotProduct,
        at_100: 88.292,
        sd_100: 0.166,
        at_130: 89.967,
    },
    PublishedPoint {
        variant: "gpuspec20",
        policy: StudyPolicy::GpuClustering,
        at_100: 89.110,
        sd_100: 0.211,
        at_130: 92.245,
    },
    PublishedPoint {
        variant: "gpuspec20",
        policy: StudyPolicy::GpuPacking,
        at_100: 89.283,
        sd_100: 0.251,
        at_130: 92.936,
    },
    PublishedPoint {
        variant: "gpuspec20",
        policy: StudyPolicy::BestFit,
        at_100: 88.463,
        sd_100: 0.124,
        at_130: 93.297,
    },
    PublishedPoint {
        variant: "gpuspec20",
        policy: StudyPolicy::Fgd,
        at_100: 94.662,
        sd_100: 0.135,
        at_130: 94.837,
    },
    PublishedPoint {
        variant: "gpuspec25",
        policy: StudyPolicy::Random,
        at_100: 85.418,
        sd_100: 0.339,
        at_130: 86.936,
    },
    PublishedPoint {
        variant: "gpuspec25",
        policy: StudyPolicy::DotProduct,
        at_100: 85.438,
        sd_100: 0.164,
        at_130: 89.634,
    },
    PublishedPoint {
        variant: "gpuspec25",
        policy: StudyPolicy::GpuClustering,
        at_100: 86.406,
        sd_100: 0.287,
        at_130: 92.080,
    },
    PublishedPoint {
        variant: "gpuspec25",
        policy: StudyPolicy::GpuPacking,
        at_100: 86.773,
        sd_100: 0.354,
        at_130: 92.983,
    },
    PublishedPoint {
        variant: "gpuspec25",
        policy: StudyPolicy::BestFit,
        at_100: 85.669,
        sd_100: 0.196,
        at_130: 93.231,
    },
    PublishedPoint {
        variant: "gpuspec25",
        policy: StudyPolicy::Fgd,
        at_100: 93.907,
        sd_100: 0.106,
        at_130: 94.741,
    },
    PublishedPoint {
        variant: "gpuspec33",
        policy: StudyPolicy::Random,
        at_100: 83.866,
        sd_100: 0.262,
        at_130: 86.456,
    },
    PublishedPoint {
        variant: "gpuspec33",
        policy: StudyPolicy::DotProduct,
        at_100: 79.817,
        sd_100: 0.254,
        at_130: 89.144,
    },
    PublishedPoint {
        variant: "gpuspec33",
        policy: StudyPolicy::GpuClustering,
        at_100: 81.090,
        sd_100: 0.217,
        at_130: 92.117,
    },
    PublishedPoint {
        variant: "gpuspec33",
        policy: StudyPolicy::GpuPacking,
        at_100: 82.218,
        sd_100: 0.392,
        at_130: 93.220,
    },
    PublishedPoint {
        variant: "gpuspec33",
        policy: StudyPolicy::BestFit,
        at_100: 80.395,
        sd_100: 0.274,
        at_130: 93.093,
    },
    PublishedPoint {
        variant: "gpuspec33",
        policy: StudyPolicy::Fgd,
        at_100: 87.836,
        sd_100: 0.184,
        at_130: 94.547,
    },
    PublishedPoint {
        variant: "multigpu20",
        policy: StudyPolicy::Random,
        at_100: 86.919,
        sd_100: 0.515,
        at_130: 88.691,
    },
    PublishedPoint {
        variant: "multigpu20",
        policy: StudyPolicy::DotProduct,
        at_100: 91.847,
        sd_100: 0.319,
        at_130: 92.062,
    },
    PublishedPoint {
        variant: "multigpu20",
        policy: StudyPolicy::GpuClustering,
        at_100: 93.343,
        sd_100: 0.604,
        at_130: 93.557,
    },
    PublishedPoint {
        variant: "multigpu20",
        policy: StudyPolicy::GpuPacking,
        at_100: 93.500,
        sd_100: 0.637,
        at_130: 93.710,
    },
    PublishedPoint {
        variant: "multigpu20",
        policy: StudyPolicy::BestFit,
        at_100: 93.734,
        sd_100: 0.252,
        at_130: 93.933,
    },
    PublishedPoint {
        variant: "multigpu20",
        policy: StudyPolicy::Fgd,
        at_100: 95.528,
        sd_100: 0.161,
        at_130: 95.651,
    },
    PublishedPoint {
        variant: "multigpu30",
        policy: StudyPolicy::Random,
        at_100: 86.631,
        sd_100: 0.467,
        at_130: 89.266,
    },
    PublishedPoint {
        variant: "multigpu30",
        policy: StudyPolicy::DotProduct,
        at_100: 93.106,
        sd_100: 0.311,
        at_130: 93.281,
    },
    PublishedPoint {
        variant: "multigpu30",
        policy: StudyPolicy::GpuClustering,
        at_100: 94.552,
        sd_100: 0.316,
        at_130: 94.722,
    },
    PublishedPoint {
        variant: "multigpu30",
        policy: StudyPolicy::GpuPacking,
        at_100: 94.703,
        sd_100: 0.320,
        at_130: 94.873,
    },
    PublishedPoint {
        variant: "multigpu30",
        policy: StudyPolicy::BestFit,
        at_100: 94.566,
        sd_100: 0.235,
        at_130: 94.719,
    },
    PublishedPoint {
        variant: "multigpu30",
        policy: StudyPolicy::Fgd,
        at_100: 96.357,
        sd_100: 0.099,
        at_130: 96.456,
    },
    PublishedPoint {
        variant: "multigpu40",
        policy: StudyPolicy::Random,
        at_100: 85.375,
        sd_100: 0.764,
        at_130: 90.091,
    },
    PublishedPoint {
        variant: "multigpu40",
        policy: StudyPolicy::DotProduct,
        at_100: 94.041,
        sd_100: 0.216,
        at_130: 94.194,
    },
    PublishedPoint {
        variant: "multigpu40",
        policy: StudyPolicy::GpuClustering,
        at_100: 95.346,
        sd_100: 0.305,
        at_130: 95.504,
    },
    PublishedPoint {
        variant: "multigpu40",
        policy: StudyPolicy::GpuPacking,
        at_100: 95.592,
        sd_100: 0.312,
        at_130: 95.741,
    },
    PublishedPoint {
        variant: "multigpu40",
        policy: StudyPolicy::BestFit,
        at_100: 95.099,
        sd_100: 0.235,
        at_130: 95.235,
    },
    PublishedPoint {
        variant: "multigpu40",
        policy: StudyPolicy::Fgd,
        at_100: 96.906,
        sd_100: 0.101,
        at_130: 96.990,
    },
    PublishedPoint {
        variant: "multigpu50",
        policy: StudyPolicy::Random,
        at_100: 81.282,
        sd_100: 0.828,
        at_130: 90.275,
    },
    PublishedPoint {
        variant: "multigpu50",
        policy: StudyPolicy::DotProduct,
        at_100: 94.728,
        sd_100: 0.205,
        at_130: 94.850,
    },
    PublishedPoint {
        variant: "multigpu50",
        policy: StudyPolicy::GpuClustering,
        at_100: 95.686,
        sd_100: 0.284,
        at_130: 95.811,
    },
    PublishedPoint {
        variant: "multigpu50",
        policy: StudyPolicy::GpuPacking,
        at_100: 96.064,
        sd_100: 0.307,
        at_130: 96.182,
    },
    PublishedPoint {
        variant: "multigpu50",
        policy: StudyPolicy::BestFit,
        at_100: 95.623,
        sd_100: 0.183,
        at_130: 95.738,
    },
    PublishedPoint {
        variant: "multigpu50",
        policy: StudyPolicy::Fgd,
        at_100: 97.094,
        sd_100: 0.106,
        at_130: 97.178,
    },
];

/// First arrival share (%) of [`DEFAULT_CURVE`].
pub const DEFAULT_CURVE_FROM: usize = 75;

/// The study's mean allocation curve on the `default` pod list, x =
/// [`DEFAULT_CURVE_FROM`] to 130% of the GPUs asked for, one row per policy
/// in [`StudyPolicy::ALL`] order.
pub const DEFAULT_CURVE: [[f64; 56]; 6] = [
    [
        73.926, 74.872, 75.821, 76.798, 77.733, 78.661, 79.569, 80.521, 81.446, 82.363, 83.178,
        83.785, 84.229, 84.606, 84.853, 85.017, 85.157, 85.297, 85.441, 85.582, 85.715, 85.837,
        85.963, 86.081, 86.214, 86.303, 86.371, 86.445, 86.506, 86.560, 86.620, 86.685, 86.742,
        86.789, 86.834, 86.881, 86.927, 86.972, 87.015, 87.056, 87.099, 87.138, 87.178, 87.212,
        87.247, 87.278, 87.304, 87.331, 87.360, 87.381, 87.399, 87.412, 87.424, 87.439, 87.459,
        87.470,
    ],
    [
        74.987, 76.002, 76.991, 78.005, 78.988, 80.015, 81.003, 81.996, 82.998, 83.994, 85.015,
        86.012, 87.002, 87.994, 89.004, 89.978, 90.530, 90.558, 90.566, 90.574, 90.581, 90.589,
        90.596, 90.606, 90.617, 90.622, 90.631, 90.647, 90.652, 90.659, 90.667, 90.676, 90.681,
        90.690, 90.697, 90.700, 90.710, 90.716, 90.720, 90.726, 90.734, 90.737, 90.745, 90.755,
        90.761, 90.765, 90.773, 90.781, 90.794, 90.801, 90.811, 90.818, 90.822, 90.830, 90.843,
        90.849,
    ],
    [
        74.987, 76.002, 76.991, 78.005, 78.988, 80.015, 81.003, 81.996, 82.998, 83.994, 85.015,
        86.012, 87.002, 87.994, 89.004, 89.981, 90.926, 91.458, 91.586, 91.598, 91.605, 91.615,
        91.625, 91.634, 91.646, 91.650, 91.660, 91.673, 91.680, 91.688, 91.696, 91.704, 91.710,
        91.717, 91.723, 91.727, 91.738, 91.742, 91.747, 91.753, 91.760, 91.767, 91.777, 91.784,
        91.792, 91.796, 91.803, 91.812, 91.821, 91.829, 91.840, 91.848, 91.854, 91.859, 91.872,
        91.878,
    ],
    [
        74.987, 76.002, 76.991, 78.005, 78.988, 80.015, 81.003, 81.996, 82.998, 83.994, 85.015,
        86.012, 87.002, 87.994, 89.004, 89.981, 90.952, 91.578, 91.721, 91.730, 91.736, 91.745,
        91.753, 91.761, 91.773, 91.779, 91.787, 91.800, 91.807, 91.816, 91.826, 91.833, 91.839,
        91.845, 91.851, 91.855, 91.866, 91.871, 91.878, 91.883, 91.889, 91.893, 91.902, 91.909,
        91.916, 91.921, 91.928, 91.936, 91.948, 91.956, 91.965, 91.973, 91.978, 91.983, 91.996,
        92.002,
    ],
    [
        74.987, 76.002, 76.991, 78.005, 78.988, 80.015, 81.003, 81.996, 82.998, 83.994, 85.015,
        86.012, 87.002, 87.994, 89.015, 89.994, 90.997, 91.996, 92.746, 92.810, 92.819, 92.830,
        92.839, 92.847, 92.858, 92.862, 92.872, 92.884, 92.890, 92.897, 92.907, 92.914, 92.920,
        92.929, 92.934, 92.935, 92.946, 92.951, 92.957, 92.964, 92.969, 92.972, 92.979, 92.989,
        92.996, 93.001, 93.008, 93.014, 93.024, 93.032, 93.040, 93.048, 93.054, 93.060, 93.073,
        93.076,
    ],
    [
        74.987, 76.002, 76.991, 78.005, 78.988, 80.015, 81.003, 81.996, 82.998, 83.994, 85.015,
        86.012, 87.002, 87.994, 89.004, 89.981, 90.984, 91.983, 92.975, 93.992, 94.905, 95.194,
        95.204, 95.213, 95.222, 95.227, 95.236, 95.246, 95.251, 95.259, 95.268, 95.275, 95.280,
        95.287, 95.294, 95.296, 95.304, 95.309, 95.313, 95.317, 95.324, 95.326, 95.330, 95.337,
        95.343, 95.347, 95.352, 95.359, 95.365, 95.370, 95.378, 95.383, 95.383, 95.386, 95.389,
        95.391,
    ],
];

/// The published point of `variant` under `policy`, if the study published one.
pub fn published(variant: &str, policy: StudyPolicy) -> Option<&'static PublishedPoint> {
    PUBLISHED
        .iter()
        .find(|p| p.variant == variant && p.policy == policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_policy_of_every_published_list_once() {
        for chunk in PUBLISHED.chunks(StudyPolicy::ALL.len()) {
            let policies: Vec<_> = chunk.iter().map(|p| p.policy).collect();
            assert_eq!(policies, StudyPolicy::ALL);
            assert!(chunk.iter().all(|p| p.variant == chunk[0].variant));
        }
        let fgd = published("default", StudyPolicy::Fgd).map(|p| p.at_100);
        assert_eq!(fgd, Some(DEFAULT_CURVE[5][100 - DEFAULT_CURVE_FROM]));
        assert!(published("gpushare20", StudyPolicy::Fgd).is_none());
    }
}

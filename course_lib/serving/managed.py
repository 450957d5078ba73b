"""What managed vision APIs take and answer, for lesson 07's comparison (no network call is made).

Each :class:`ManagedAPI` records how an image travels to the service, the shape of
its answer, and what its provider's own pages said about price and privacy on
:data:`READ_ON`, with the address of each page. The keys and nesting of
``example_response`` follow the provider's documentation; the values are
illustrative (a photo of a cat), except where a note says they are the
documentation's own example. Where a page gave no figure, the field sends the
reader to the provider's page instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

READ_ON = "2026-12-02"


@dataclass(frozen=True)
class ManagedAPI:
    name: str
    request: str  # how the image is sent
    example_response: Any  # the answer's shape (documented keys, illustrative values)
    confidence_scale: str  # what the confidence numbers mean
    price: str  # as the provider's pricing page put it on READ_ON, or "not found"
    privacy: str  # what the provider's pages say happens to the image
    sources: tuple[str, ...]


GOOGLE_VISION = ManagedAPI(
    name="Google Cloud Vision (LABEL_DETECTION)",
    request=(
        "POST https://vision.googleapis.com/v1/images:annotate, a JSON body "
        '{"requests": [{"image": {"content": <base64>}, '
        '"features": [{"type": "LABEL_DETECTION"}]}]} '
        "with an API key or OAuth token"
    ),
    example_response={
        "responses": [
            {
                "labelAnnotations": [
                    {
                        "mid": "<knowledge graph id>",
                        "description": "Cat",
                        "score": 0.97,
                        "topicality": 0.97,
                    },
                    {
                        "mid": "<knowledge graph id>",
                        "description": "Whiskers",
                        "score": 0.91,
                        "topicality": 0.91,
                    },
                    {
                        "mid": "<knowledge graph id>",
                        "description": "Carnivore",
                        "score": 0.88,
                        "topicality": 0.88,
                    },
                ]
            }
        ]
    },
    confidence_scale="score in [0, 1]",
    price=(
        "first 1,000 units a month free, then $1.50 per 1,000 units up to 5,000,000, "
        "$1.00 per 1,000 beyond (one unit = one feature on one image)"
    ),
    privacy=(
        "online requests are processed in memory and not written to disk; Google does not use "
        "the content to train its models; request metadata is logged for a while"
    ),
    sources=(
        "https://cloud.google.com/vision/pricing",
        "https://cloud.google.com/vision/docs/labels",
        "https://cloud.google.com/vision/docs/data-usage",
    ),
)

AUTOML_VISION = ManagedAPI(
    name="Google AutoML Vision (Vertex AI)",
    request=(
        "you upload labelled training images; Google trains and hosts a model of your own classes"
    ),
    example_response=None,
    confidence_scale="see Vertex AI's documentation for your model's predictions",
    price="see Vertex AI's pricing page: training and hosting a model of your own",
    privacy="see Vertex AI's data terms before uploading photos",
    sources=("https://cloud.google.com/vision/docs/labels",),
)

REKOGNITION = ManagedAPI(
    name="Amazon Rekognition (DetectLabels)",
    request=(
        "DetectLabels through an AWS SDK, e.g. boto3's detect_labels(Image={'Bytes': data}), "
        "a signed request carrying the image bytes or an S3 object name"
    ),
    example_response={
        "Labels": [
            {
                "Name": "Cat",
                "Confidence": 97.4,
                "Instances": [],
                "Parents": [{"Name": "Animal"}, {"Name": "Mammal"}],
                "Aliases": [],
                "Categories": [{"Name": "Animals and Pets"}],
            },
            {
                "Name": "Pet",
                "Confidence": 97.4,
                "Instances": [],
                "Parents": [{"Name": "Animal"}],
                "Aliases": [],
                "Categories": [{"Name": "Animals and Pets"}],
            },
        ],
        "LabelModelVersion": "3.0",
    },
    confidence_scale="Confidence in [0, 100] (a percentage)",
    price=(
        "per image, DetectLabels priced in 'Group 2', tiered by monthly volume, with a 12-month "
        "free tier; the figures per image are on the pricing page"
    ),
    privacy=(
        "AWS AI services may store and use the content for service improvement, including model "
        "training, possibly in another region, unless the account opts out "
        "(AI services opt-out policy)"
    ),
    sources=(
        "https://aws.amazon.com/rekognition/pricing/",
        "https://docs.aws.amazon.com/rekognition/latest/APIReference/API_Label.html",
        "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_ai-opt-out.html",
    ),
)

AZURE_VISION = ManagedAPI(
    name="Azure AI Vision (Image Analysis 4.0, tags)",
    request=(
        "Analyze Image with the tags feature: the image as binary data in the request body "
        "(or a URL), with a resource key or Entra ID token"
    ),
    example_response={
        "metadata": {"width": 300, "height": 200},
        "tagsResult": {
            "values": [
                {"name": "grass", "confidence": 0.9960499405860901},
                {"name": "outdoor", "confidence": 0.9956876635551453},
                {"name": "building", "confidence": 0.9893627166748047},
            ]
        },
    },  # the documentation's own example (a house), first three tags
    confidence_scale="confidence in [0, 1]",
    price=(
        "see Azure's pricing page; note that Image Analysis 4.0 is deprecated and will be "
        "retired on 25 September 2028"
    ),
    privacy=(
        "Microsoft publishes a data, privacy and security page for Image Analysis (third "
        "source): read its retention terms before sending photos"
    ),
    sources=(
        "https://learn.microsoft.com/en-us/azure/ai-services/computer-vision/concept-tag-images-40",
        "https://learn.microsoft.com/en-us/azure/ai-services/computer-vision/sdk/overview-sdk",
        "https://learn.microsoft.com/en-us/legal/cognitive-services/computer-vision/"
        "imageanalysis-data-privacy-security",
    ),
)

HUGGING_FACE = ManagedAPI(
    name="Hugging Face Inference Providers (image-classification)",
    request=(
        "POST the image's raw bytes (or base64 in 'inputs', with optional 'top_k') to the model's "
        "address, with a Bearer token"
    ),
    example_response=[
        {"label": "tabby, tabby cat", "score": 0.58},
        {"label": "tiger cat", "score": 0.25},
        {"label": "Egyptian cat", "score": 0.12},
    ],
    confidence_scale="score in [0, 1] (softmax of the chosen model)",
    price=(
        "monthly credits ($2.00 for PRO accounts, less for free ones), then pay-as-you-go at "
        "the provider's rate; a dedicated endpoint on 2 vCPUs costs $0.067 an hour"
    ),
    privacy="depends on the provider the request is routed to: read that provider's terms",
    sources=(
        "https://huggingface.co/docs/inference-providers/tasks/image-classification",
        "https://huggingface.co/docs/inference-providers/pricing",
        "https://huggingface.co/docs/inference-endpoints/support/pricing",
    ),
)

MANAGED_APIS = (GOOGLE_VISION, AUTOML_VISION, REKOGNITION, AZURE_VISION, HUGGING_FACE)

# Prices used in lesson 07's arithmetic, each from the page named beside it (read on READ_ON).
GOOGLE_LABELS_PER_1000_USD = (
    1.50  # units 1,001 to 5,000,000 a month; https://cloud.google.com/vision/pricing
)
GOOGLE_FREE_UNITS_PER_MONTH = 1_000  # same page
CPU_ENDPOINT_2_VCPU_USD_PER_HOUR = (
    0.067  # aws intel-spr x2; https://huggingface.co/docs/inference-endpoints/support/pricing
)

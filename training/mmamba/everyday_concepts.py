"""Which concepts of the fixed ruler's classifier (training/ruler/evaluators.pt, the 5,099 concepts of dataset v2)
each everyday prompt (sample_grid.EVERYDAY_PROMPTS) names: the machine count of the everyday grid
(training/score_everyday.py) takes a seed as showing the subject when one of these is in the classifier's top-5.

Per prompt, the first concept is the one the prompt names: the dataset's own concept for the subject, kept in
training for exactly these prompts (mmamba.data.DEMO_CONCEPTS), except "birthday cake", a concept of its own
(DEMO_CONCEPTS keeps "cake", which is second here). The rest are other concepts of the label set whose
drawings are the same subject, so a reader would count the picture as the subject too (the dataset splits one
subject over several concepts by icon-set name: "cat face" and "grinning cat face", "tree" and "palm tree", "coffee"
and "cup hot"). Left out on purpose: concepts that only share a word ("hot dog", "pizza cutter", "fish cake with
swirl", "heart organ", "star of david", "fireworks rocket", "binary tree"), a different thing or a different state
of the subject ("spaceship", "dolphin", "whale", "forest", "broken heart", "cake slice" for a birthday cake, "sun
behind cloud"), and concepts that mix the subject with other objects ("cup": trophy and dice cups; "mug": beer
mugs). Colours ("red", "yellow", "blue") are not checked: the everyday grid asks for the subject.

The "strict" count takes only the first concept. Chosen by hand from the label set and the names of the pack's
drawings per concept (data/packed/index.json), searching concept names and synonyms for the subject's words (cup,
tea, mug, coffee, beverage; car, vehicle, automobile, taxi, jeep; dog, poodle; house, home, cottage, hut; tree,
pine, palm, forest; star; sun; heart; cat; fish, shark, whale; cake; apple; rocket, spaceship; pizza; snowman;
thumb, like). A first list from a narrower search missed "teacup without handle", "sport utility vehicle", "taxi",
"oncoming taxi", "jeep", "poodle", "cottage", "hut", "weather sunny low", "blowfish" and "shark"; the first scoring
run showed two of them as a top-1, and the broader search then added all eleven. Nothing was added or dropped for
its effect on a count. A change here changes every machine count: say so where the counts are written down.
"""

from __future__ import annotations

EVERYDAY_CONCEPTS: dict[str, tuple[str, ...]] = {
    "red apple": ("apple", "food apple"),
    "rocket": ("rocket", "rocket launch"),
    "a slice of pizza": ("pizza", "pizza slice"),
    "snowman": ("snowman", "snowman without snow"),
    # "coffee" holds the hot-beverage emoji (a steaming cup); tea and coffee cannot be told apart in an icon
    "a cup of hot coffee": (
        "coffee",
        "coffee mug",
        "cup hot",
        "tea cup",
        "teacup without handle",
        "coffee takeaway cup",
    ),
    # "like" is mostly thumb icons (thumb-like, like-1)
    "thumbs up": ("thumbs up", "like", "thumbs up double"),
    "cat face": (
        "cat face",
        "cat",
        "grinning cat",
        "grinning cat face",
        "grinning cat with smiling eyes",
        "cat with tears of joy",
        "cat with wry smile",
        "crying cat",
        "kissing cat",
        "kissing cat face",
        "pouting cat",
        "pouting cat face",
        "smiling cat with heart eyes",
        "weary cat",
        "weary cat face",
    ),
    "dog": ("dog", "dog face", "poodle", "guide dog", "service dog"),
    "a yellow star": ("star", "glowing star", "star shine"),
    "house": ("house", "house chimney", "house with garden", "derelict house", "cottage", "hut"),
    "tree": (
        "tree",
        "deciduous tree",
        "tree deciduous",
        "evergreen tree",
        "pine tree",
        "palm tree",
        "tree palm",
        "leafless tree",
    ),
    "blue car": (
        "car",
        "car side",
        "car front",
        "car sport",
        "racing car",
        "oncoming automobile",
        "sport utility vehicle",
        "jeep",
        "taxi",
        "oncoming taxi",
        "police car",
        "oncoming police car",
        "car taxi",
        "car taxi front",
    ),
    "fish": ("fish", "tropical fish", "fish symbol", "blowfish", "shark"),
    # "cake" lists "birthday cake" among its synonyms
    "birthday cake": ("birthday cake", "cake"),
    "sun": ("sun", "sun with face", "weather sunny", "weather sunny low"),
    "a red heart": (
        "heart",
        "heart suit",
        "sparkling heart",
        "beating heart",
        "growing heart",
        "heart decoration",
        "heart with ribbon",
        "heart with arrow",
        "heart exclamation",
    ),
}

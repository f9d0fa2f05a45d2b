#include "eval/ruler_builtin.h"

namespace compactor::eval {

const std::vector<std::string>& builtin_adjectives() {
    static const std::vector<std::string> words = {
        "amber", "ancient", "brave", "brisk", "bright", "calm", "careful", "cheerful", "chilly",
        "clever", "cloudy", "cozy", "crimson", "curious", "daring", "dusty", "eager", "early",
        "elegant", "empty", "fancy", "fierce", "fluffy", "frosty", "gentle", "giant", "gloomy",
        "golden", "graceful", "grumpy", "hasty", "hidden", "hollow", "humble", "hungry", "jagged",
        "jolly", "keen", "lively", "lonely", "lofty", "lucky", "mellow", "merry", "misty", "modest",
        "muddy", "narrow", "nervous", "noble", "orange", "patient", "plain", "polite", "proud",
        "purple", "quick", "quiet", "rapid", "rare", "restless", "rocky", "rosy", "rough", "royal",
        "rusty", "sandy", "scarlet", "secret", "shaggy", "shiny", "silent", "silver", "simple",
        "sleepy", "slender", "smooth", "snowy", "sober", "soft", "solid", "sparkling", "spicy",
        "steady", "stormy", "sturdy", "sunny", "swift", "tame", "tidy", "tiny", "tough", "vast",
        "velvet", "vivid", "weary", "warm", "wild", "windy", "wise", "witty", "wooden", "young",
        "zealous",
    };
    return words;
}

const std::vector<std::string>& builtin_nouns() {
    static const std::vector<std::string> words = {
        "anchor", "apple", "acorn", "badger", "banner", "barrel", "basket", "beacon", "beetle",
        "blanket", "bottle", "bridge", "bucket", "button", "cabin", "camel", "candle", "canyon",
        "carpet", "castle", "cellar", "chimney", "cloak", "comet", "compass", "copper", "cottage",
        "crystal", "dagger", "dolphin", "donkey", "dragon", "drum", "eagle", "engine", "falcon",
        "feather", "fiddle", "forest", "fountain", "garden", "glacier", "goblet", "harbor", "harp",
        "helmet", "hammer", "island", "jacket", "jungle", "kettle", "ladder", "lantern", "lemon",
        "lizard", "magnet", "marble", "meadow", "mirror", "monkey", "needle", "oyster", "otter",
        "paddle", "parrot", "pebble", "pepper", "pillow", "pirate", "planet", "pocket", "puzzle",
        "rabbit", "raven", "ribbon", "river", "rocket", "saddle", "salmon", "sandal", "shovel",
        "spider", "spoon", "squirrel", "statue", "teapot", "temple", "thimble", "ticket", "tiger",
        "tower", "trumpet", "tunnel", "turtle", "umbrella", "valley", "violin", "wagon", "walnut",
        "whistle", "window", "wizard", "zebra",
    };
    return words;
}

const std::vector<std::string>& builtin_verbs() {
    static const std::vector<std::string> words = {
        "admire", "arrive", "bake", "balance", "bounce", "borrow", "breathe", "carry", "chase", "chew",
        "climb", "collect", "count", "crawl", "dance", "deliver", "drift", "explore", "fetch", "float",
        "fold", "gather", "giggle", "glide", "guard", "hike", "hover", "hurry", "invent", "juggle",
        "jump", "kneel", "knit", "laugh", "launch", "listen", "march", "mend", "mumble", "nod",
        "observe", "paint", "polish", "ponder", "pour", "print", "pull", "push", "quarrel", "relax",
        "remember", "repair", "rescue", "rush", "scatter", "scribble", "search", "shiver", "shout",
        "skip", "sneeze", "sparkle", "splash", "squeeze", "stitch", "stroll", "swim", "tickle",
        "travel", "tumble", "twirl", "untie", "unlock", "vanish", "visit", "wander", "wash", "whisper",
        "wiggle", "wobble", "wonder", "wrap", "yawn", "yell", "zoom", "bloom", "brew", "capture",
        "chop", "describe", "drizzle", "gallop", "sail", "sketch", "slide", "stack", "stir", "sweep",
        "swing", "trace",
    };
    return words;
}

const std::string& noise_line() {
    static const std::string line =
        "The wind moves over the hills. The hills turn brown in autumn. A road winds between the fields. "
        "The farmhouse lights come on at dusk. Morning follows the night again.";
    return line;
}

}  // namespace compactor::eval

fn main() {
    yew::Renderer::<yew_simplejwt::app::App>::new().render();
}
